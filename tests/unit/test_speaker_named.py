from __future__ import annotations

from mnemo.domain.scoring import names, speaker_named


def test_the_one_speaker_a_question_names_is_found_as_a_word() -> None:
    assert speaker_named("What is Melanie's favourite hobby?", ["Caroline", "Melanie"]) == "melanie"
    assert speaker_named("what did caroline paint?", ["Caroline", "Melanie"]) == "caroline"


def test_a_capitalised_beginning_of_a_name_names_its_speaker() -> None:
    assert speaker_named("What method does Deb suggest?", ["Deborah", "Jolene"]) == "deborah"
    assert speaker_named("What method does Deb suggest to Jolene?", ["Deborah", "Jolene"]) is None
    assert speaker_named("Which car does she drive?", ["Caroline", "Melanie"]) is None, "not capitalised"
    assert speaker_named("Did Ca call?", ["Caroline"]) is None, "too short to say"


def test_a_memory_names_a_speaker_as_a_word() -> None:
    assert names("Tim just loves watching LeBron.", "tim")
    assert not names("Timothy called.", "tim")


def test_no_speaker_when_the_question_names_none_or_several() -> None:
    assert speaker_named("What did Mo paint?", ["Caroline", "Melanie"]) is None
    assert speaker_named("What did Melanie give Caroline?", ["Caroline", "Melanie"]) is None
    assert speaker_named("Where does she live?", []) is None
