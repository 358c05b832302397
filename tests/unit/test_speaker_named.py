from __future__ import annotations

from mnemo.domain.scoring import speaker_named


def test_the_one_speaker_a_question_names_is_found_as_a_word() -> None:
    assert speaker_named("What is Melanie's favourite hobby?", ["Caroline", "Melanie"]) == "melanie"
    assert speaker_named("what did caroline paint?", ["Caroline", "Melanie"]) == "caroline"


def test_no_speaker_when_the_question_names_none_or_several() -> None:
    assert speaker_named("What did Mel paint?", ["Caroline", "Melanie"]) is None
    assert speaker_named("What did Melanie give Caroline?", ["Caroline", "Melanie"]) is None
    assert speaker_named("Where does she live?", []) is None
