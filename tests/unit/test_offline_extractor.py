from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mnemo.pipeline.extraction import ExtractionRequest, Extractor, Message
from mnemo.pipeline.offline_extractor import (
    MAX_FACTS_PER_MESSAGE,
    OfflineExtractor,
    extract_facts,
    split_sentences,
    told,
)

# Monday 8 May 2023.
OBSERVED = datetime(2023, 5, 8, 14, 0, tzinfo=UTC)


def _texts(*messages: Message) -> list[str]:
    return [fact.text for fact in extract_facts(messages, OBSERVED)]


def _user(content: str, name: str | None = None) -> Message:
    return Message(role="user", content=content, name=name)


def _assistant(content: str) -> Message:
    return Message(role="assistant", content=content)


# ---------------------------------------------------------------- sentences


def test_split_sentences_handles_abbreviations_decimals_and_emoji() -> None:
    text = "Dr. Smith said I need 7.5 hours of sleep, e.g. no late shows! Really? Got a puppy 🐶 His name is Max"
    assert split_sentences(text) == [
        "Dr. Smith said I need 7.5 hours of sleep, e.g. no late shows!",
        "Really?",
        "Got a puppy 🐶",
        "His name is Max",
    ]


def test_split_sentences_keeps_initials_together() -> None:
    assert split_sentences("I love J. K. Rowling. Mrs. Dalloway too.") == [
        "I love J. K. Rowling.",
        "Mrs. Dalloway too.",
    ]


def test_very_long_run_on_text_is_broken_up_or_left_out() -> None:
    pieces = split_sentences("I like tea, " * 60)
    assert pieces and all(len(piece) <= 400 for piece in pieces)
    assert split_sentences("x" * 5000) == []


# ---------------------------------------------------------------- what is kept


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("I adopted a dog", "User adopted a dog."),
        ("My sister lives in Paris", "User's sister lives in Paris."),
        ("I love painting", "User loves painting."),
        ("I've been learning guitar for 3 years", "User has been learning guitar for 3 years."),
        ("I'm a nurse at the county hospital.", "User is a nurse at the county hospital."),
        ("I am allergic to peanuts.", "User is allergic to peanuts."),
        ("I have two cats.", "User has two cats."),
        ("I was born in Lisbon.", "User was born in Lisbon."),
        ("I'll start the new job in June.", "User will start the new job in June."),
        ("I'd love to visit Japan someday.", "User would love to visit Japan someday."),
        ("My brother gave me a guitar for myself.", "User's brother gave User a guitar for User."),
        ("i love sushi", "User loves sushi."),
        ("I work as a nurse and I really enjoy it.", "User works as a nurse and User really enjoys it."),
        ("I don't like coffee.", "User doesn't like coffee."),
        ("I study biology at MIT.", "User studies biology at MIT."),
        ("Just finished my first marathon!", "User just finished User's first marathon."),
        ("Super excited to start my new job!", "User is super excited to start User's new job."),
        ("Still working on opening a dance studio.", "User is still working on opening a dance studio."),
    ],
)
def test_informative_user_statements(content: str, expected: str) -> None:
    assert _texts(_user(content)) == [expected]


def test_plural_statements_are_prefixed_with_the_speaker() -> None:
    assert _texts(_user("Our dog loves the beach.")) == ["User: Our dog loves the beach."]


def test_name_replaces_the_default_subject() -> None:
    assert _texts(_user("I'm moving to Berlin and my wife is thrilled.", name="alice")) == [
        "alice is moving to Berlin and their wife is thrilled."
    ]
    assert _texts(_user("We adopted a cat.", name="Bob")) == ["Bob: We adopted a cat."]


def test_relative_dates_are_resolved_against_the_observation_time() -> None:
    assert _texts(_user("I went hiking yesterday.")) == ["User went hiking yesterday (2023-05-07)."]
    assert _texts(_user("We're going to Hawaii next month")) == ["User: We're going to Hawaii next month (June 2023)."]
    later = datetime(2024, 1, 15, 9, 30)
    facts = extract_facts([_user("I started learning the cello last month.")], later)
    assert [fact.text for fact in facts] == ["User started learning the cello last month (December 2023)."]


# ---------------------------------------------------------------- what is dropped


@pytest.mark.parametrize(
    "content",
    [
        "Hi!",
        "Hey there, good morning!",
        "Thanks so much!",
        "Thank you for helping me.",
        "That's awesome!",
        "Wow, cool",
        "Haha yes",
        "Sounds good",
        "Good luck!",
        "Me too!",
        "I agree.",
        "I think so.",
        "Talk to you later!",
        "Let me know how it goes.",
    ],
)
def test_greetings_thanks_and_backchannel_give_no_facts(content: str) -> None:
    assert _texts(_user(content)) == []


@pytest.mark.parametrize(
    "content",
    ["How are you?", "What did you do?", "What did you do", "Have you ever been to Rome", "Do you like my painting?"],
)
def test_questions_give_no_facts(content: str) -> None:
    assert _texts(_user(content)) == []


@pytest.mark.parametrize(
    "content", ["You're so brave", "Your painting is lovely!", "I'm so proud of you!", "I'm happy for you."]
)
def test_reactions_to_the_other_speaker_give_no_facts(content: str) -> None:
    assert _texts(_user(content)) == []


def test_generic_remarks_without_a_personal_anchor_are_dropped() -> None:
    assert _texts(_user("Running can really boost your mood. Nature is so calming.")) == []


def test_multi_sentence_message_keeps_only_informative_sentences() -> None:
    content = (
        "Hey Mel! Thanks for asking. I adopted a puppy last week! His name is Max. "
        "How is your garden doing? My sister lives in Paris now. Haha, so fun!"
    )
    assert _texts(_user(content, name="Caroline")) == [
        "Caroline adopted a puppy last week (week of 2023-05-01).",
        "Caroline: His name is Max.",
        "Caroline's sister lives in Paris now.",
    ]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "Thanks, Caroline! It was Matt Patterson, he is so talented!",
            ["Mel: It was Matt Patterson, he is so talented."],
        ),
        ("Sure thing, Tim! The doctor said it's 2 weeks of rest.", ["Mel: The doctor said it's 2 weeks of rest."]),
        ("The kids start school on 4 September.", ["Mel: The kids start school on 4 September."]),
        (
            "Barcelona is a must-visit city with great architecture and amazing food by the beaches.",
            ["Mel: Barcelona is a must-visit city with great architecture and amazing food by the beaches."],
        ),
        ("The new bakery downtown sells sourdough.", ["Mel: The new bakery downtown sells sourdough."]),
    ],
)
def test_what_a_user_tells_about_someone_or_something_else_is_kept(content: str, expected: list[str]) -> None:
    assert _texts(_user(content, name="Mel")) == expected


@pytest.mark.parametrize(
    "content", ["Hey Mel!", "Oof, Sam, so embarrassing.", "Wow, Evan, that's really inspiring.", "The food was great."]
)
def test_remarks_that_name_only_the_other_speaker_or_say_little_give_no_facts(content: str) -> None:
    assert _texts(_user(content)) == []


def test_an_assistant_telling_about_the_world_gives_no_facts() -> None:
    facts = extract_facts(
        [_user("I'm flying to Lisbon in May."), _assistant("Lisbon has 300 sunny days a year and great seafood.")],
        OBSERVED,
    )
    assert [fact.text for fact in facts] == ["User is flying to Lisbon in May."]


def test_statement_followed_by_a_question_tag_is_kept() -> None:
    assert _texts(_user("Got married last Saturday - how about you?")) == [
        "User got married last Saturday (2023-05-06)."
    ]


# ---------------------------------------------------------------- assistant messages


def test_informative_assistant_statement_is_kept() -> None:
    facts = extract_facts([_assistant("I booked your table at Nopa for 7pm.")], OBSERVED)
    assert [(fact.text, fact.attributed_to) for fact in facts] == [
        ("Assistant booked your table at Nopa for 7pm.", "assistant")
    ]


@pytest.mark.parametrize(
    "content",
    ["Noted.", "Duly noted!", "Got it.", "Understood.", "Will do!", "I'll remember that.", "I have noted it."],
)
def test_assistant_acknowledgements_give_no_facts(content: str) -> None:
    assert extract_facts([_user("I like green tea."), _assistant(content)], OBSERVED)[1:] == []


def test_assistant_restatement_of_the_user_is_dropped() -> None:
    facts = extract_facts(
        [
            _user("I adopted a dog named Max last week."),
            _assistant("That's wonderful! I see you adopted a dog named Max. How old is he?"),
        ],
        OBSERVED,
    )
    assert [(fact.text, fact.attributed_to) for fact in facts] == [
        ("User adopted a dog named Max last week (week of 2023-05-01).", "user")
    ]


def test_assistant_confirmation_of_a_request_is_kept() -> None:
    facts = extract_facts(
        [_user("Can you book a table at Nopa for 7pm?"), _assistant("Done! I booked a table at Nopa for 7pm.")],
        OBSERVED,
    )
    assert [(fact.text, fact.attributed_to) for fact in facts] == [
        ("Assistant booked a table at Nopa for 7pm.", "assistant")
    ]


def test_system_messages_are_ignored() -> None:
    messages = [Message(role="system", content="I am a helpful assistant with my own rules."), _user("Hi!")]
    assert extract_facts(messages, OBSERVED) == []


def test_named_assistant_keeps_assistant_attribution() -> None:
    facts = extract_facts([Message(role="assistant", content="I moved your call to Friday.", name="Ava")], OBSERVED)
    assert [(fact.text, fact.attributed_to) for fact in facts] == [("Ava moved your call to Friday.", "assistant")]


# ---------------------------------------------------------------- output shape


def test_identical_facts_are_deduplicated_but_different_speakers_are_not() -> None:
    messages = [_user("I love chess. I love chess!"), _user("I love chess.")]
    assert _texts(*messages) == ["User loves chess."]
    assert _texts(_user("I love chess.", name="Ann"), _user("I love chess.", name="Bo")) == [
        "Ann loves chess.",
        "Bo loves chess.",
    ]


def test_output_is_capped_per_message() -> None:
    content = " ".join(f"I visited city number {index}." for index in range(50))
    assert len(_texts(_user(content))) == MAX_FACTS_PER_MESSAGE


def test_facts_carry_no_categories_and_are_deterministic() -> None:
    messages = [_user("I adopted a dog and my sister lives in Paris. We love hiking!")]
    first = extract_facts(messages, OBSERVED)
    assert first == extract_facts(messages, OBSERVED)
    assert all(fact.categories == () and fact.attributed_to == "user" for fact in first)


def test_offline_extractor_implements_the_port() -> None:
    extractor: Extractor = OfflineExtractor()
    assert extractor.name == "offline-rules-v1"
    request = ExtractionRequest(messages=[_user("I just moved to San Francisco from New York.")], observed_at=OBSERVED)
    result = asyncio.run(extractor.extract(request))
    assert [fact.text for fact in result.facts] == ["User just moved to San Francisco from New York."]
    assert result.usage is None


def test_offline_extractor_handles_large_adds_off_the_event_loop() -> None:
    content = "I like tea. " * 2000
    request = ExtractionRequest(messages=[_user(content)], observed_at=OBSERVED)
    result = asyncio.run(OfflineExtractor().extract(request))
    assert [fact.text for fact in result.facts] == ["User likes tea."]


# ---------------------------------------------------------------- stage directions


def test_stage_direction_is_joined_to_the_sentence_it_follows() -> None:
    content = "I painted this last week! Check it out [shares a photo of a sunset over a lake]"
    assert _texts(_user(content, name="Mel")) == [
        "Mel painted this last week (week of 2023-05-01); Mel shares a photo of a sunset over a lake."
    ]


def test_stage_direction_alone_is_a_fact_of_its_own() -> None:
    assert _texts(_user("They made this! [shares a photo of a cup with a dog face]", name="Mel")) == [
        "Mel shares a photo of a cup with a dog face."
    ]
    assert _texts(_user("*sends a picture of my dog Max*")) == ["User sends a picture of User's dog Max."]


@pytest.mark.parametrize("content", ["[laughs]", "*waves hello*", "Haha [shares a photo]", "[This is me]"])
def test_uninformative_brackets_give_no_facts(content: str) -> None:
    assert _texts(_user(content)) == []


def test_emphasis_stays_in_its_sentence() -> None:
    assert _texts(_user("I *always* eat pizza on Fridays.")) == ["User *always* eat pizza on Fridays."]


def test_a_plan_made_together_is_kept_when_it_says_when() -> None:
    assert _texts(_user("Let's get everything ready and paint next Saturday. Can't wait!", "Sam")) == [
        "Sam: Let's get everything ready and paint next Saturday (2023-05-13)."
    ]
    assert _texts(_user("Sounds great! Let's do it!", "Sam")) == []
    assert _texts(_user("Let's catch up soon.", "Sam")) == []


def test_once_the_speaker_is_named_my_becomes_their() -> None:
    assert _texts(_user("I broke my wrist skiing.", "Sam")) == ["Sam broke their wrist skiing."]
    assert _texts(_user("My mom is a librarian.", "Sam")) == ["Sam's mom is a librarian."]


@pytest.mark.parametrize(
    ("text", "small_talk"),
    [
        ("Have you ever been hiking in the Alps?", True),
        ("Haha, that sounds like so much fun!", True),
        ("Thanks so much, Mel!", True),
        ("Noted, you live in Austin.", True),
        ("Yes!", True),
        ("Last summer I spent two weeks hiking in the Alps with my sister.", False),
        ("It was Matt Patterson.", False),
        ("[shares a photo of a lake at sunset]", False),
        # an answer that tells something is no small talk, whoever gives it
        ("Mix flour, eggs and milk, then bake the batter for twenty minutes at 180 degrees.", False),
    ],
)
def test_small_talk_is_a_message_that_tells_nothing(text: str, small_talk: bool) -> None:
    assert (told(text) == []) is small_talk


def test_a_message_tells_its_informative_sentences() -> None:
    assert told("Thanks, Mel! How are you doing? I adopted a puppy named Biscuit last week. Haha!") == [
        "I adopted a puppy named Biscuit last week."
    ]
