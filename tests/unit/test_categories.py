from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from mnemo.pipeline import llm_extractor
from mnemo.pipeline.categories import DEFAULT_CATEGORIES, FALLBACK_CATEGORY, MAX_CATEGORIES, categorize, stem
from mnemo.pipeline.extraction import Category, ExtractionRequest, Message
from mnemo.pipeline.offline_extractor import OfflineExtractor

OBSERVED = datetime(2023, 5, 8, 14, 0, tzinfo=UTC)
NAMES = [category.name for category in DEFAULT_CATEGORIES]


def test_default_catalogue_has_the_fifteen_categories_with_descriptions() -> None:
    assert NAMES == [
        "personal_details",
        "family",
        "professional_details",
        "sports",
        "travel",
        "food",
        "music",
        "health",
        "technology",
        "hobbies",
        "fashion",
        "entertainment",
        "milestones",
        "user_preferences",
        "misc",
    ]
    assert all(category.description and "\n" not in category.description for category in DEFAULT_CATEGORIES)
    assert FALLBACK_CATEGORY in NAMES


def test_llm_extractor_uses_the_same_catalogue() -> None:
    assert llm_extractor.DEFAULT_CATEGORIES is DEFAULT_CATEGORIES
    assert llm_extractor.FALLBACK_CATEGORY == FALLBACK_CATEGORY


@pytest.mark.parametrize(
    ("word", "forms"),
    [
        ("paint", ["painting", "painted", "paints", "Paint"]),
        ("dance", ["dancing", "danced", "dances"]),
        ("family", ["families", "family's"]),
        ("run", ["running", "runs"]),
        ("hike", ["hiking", "hiked", "hikes"]),
        ("study", ["studied", "studies", "studying"]),
    ],
)
def test_inflected_forms_share_a_stem(word: str, forms: list[str]) -> None:
    assert {stem(form) for form in forms} == {stem(word)}


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Alice lives in Paris and turns 30 next month.", "personal_details"),
        ("Caroline's best friend moved to her hometown.", "personal_details"),
        ("Bob's sister just had a baby girl.", "family"),
        ("Melanie takes her kids and her husband camping every summer.", "family"),
        ("Jon works as a software engineer at a startup.", "professional_details"),
        ("Maria had a job interview with a big company on Monday.", "professional_details"),
        ("Sam plays basketball in a local league.", "sports"),
        ("Evan ran a half marathon last weekend.", "sports"),
        ("Gina is flying to Japan for a two-week vacation.", "travel"),
        ("Deborah visited the beach on a road trip.", "travel"),
        ("John is vegetarian and loves cooking Thai curries.", "food"),
        ("Audrey baked chocolate cookies for the picnic.", "food"),
        ("Calvin plays the guitar in a jazz band.", "music"),
        ("Dave went to a concert of his favorite singer.", "music"),
        ("Tim has been seeing a therapist for his anxiety.", "health"),
        ("Andrew broke his ankle and had surgery.", "health"),
        ("Nate bought a new laptop and is learning to code in Python.", "technology"),
        ("Joanna built a website and an app for her project.", "technology"),
        ("Caroline painted a sunset over the lake.", "hobbies"),
        ("Melanie has taken up pottery and knitting.", "hobbies"),
        ("Gina designs her own clothes and loves stylish sneakers.", "fashion"),
        ("Jolene wore a red dress and a necklace to the party.", "fashion"),
        ("Tim is reading a fantasy novel by his favorite author.", "entertainment"),
        ("Nate watched a movie and played video games all night.", "entertainment"),
        ("Jon graduated from college and got a promotion.", "milestones"),
        ("Maria finally finished her first marathon and won an award.", "milestones"),
        ("Alice prefers tea over coffee and hates mornings.", "user_preferences"),
        ("Bob always reads before bed; it's his favorite habit.", "user_preferences"),
    ],
)
def test_hand_written_sentences_get_their_category(text: str, category: str) -> None:
    categories = categorize(text, DEFAULT_CATEGORIES)
    assert category in categories
    assert 1 <= len(categories) <= MAX_CATEGORIES
    assert FALLBACK_CATEGORY not in categories


def test_several_categories_best_match_first_and_at_most_three() -> None:
    assert categorize("Caroline painted a portrait of her mom and dad.", DEFAULT_CATEGORIES) == ("family", "hobbies")
    crowded = "Alice's sister cooked pizza, played guitar, went skiing in Japan and bought a laptop."
    assert len(categorize(crowded, DEFAULT_CATEGORIES)) == MAX_CATEGORIES


@pytest.mark.parametrize(
    "text", ["John is excited for the future.", "It was a tough week.", "Hopefully it happens soon.", ""]
)
def test_misc_only_when_nothing_else_matches(text: str) -> None:
    assert categorize(text, DEFAULT_CATEGORIES) == ("misc",)


@pytest.mark.parametrize(
    ("text", "unwanted"),
    [
        ("Bob booked a hotel in Rome.", "entertainment"),  # "booked" is not "book"
        ("It changed people's lives.", "personal_details"),  # "lives" the plural of "life"
        ("Ann hates waiting.", "fashion"),  # "hate" is not "hat"
        ("Just kidding, Alice is fine.", "family"),  # "kidding" is not "kid"
    ],
)
def test_stems_that_would_collide_are_kept_apart(text: str, unwanted: str) -> None:
    assert unwanted not in categorize(text, DEFAULT_CATEGORIES)


CUSTOM = (
    Category("pets", "Animals the user keeps"),
    Category("work", "Projects, deadlines and meetings"),
    Category("Kids", ""),
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("User walks her pet every morning.", ("pets",)),
        ("User has a project deadline on Friday.", ("work",)),
        ("User's kids have two meetings at school.", ("work", "Kids")),
        ("User's kid cleans the animals' cages.", ("pets", "Kids")),
    ],
)
def test_custom_categories_match_their_name_and_description(text: str, expected: tuple[str, ...]) -> None:
    assert categorize(text, CUSTOM) == expected


def test_custom_catalogue_without_a_match_gives_misc_only_when_it_has_misc() -> None:
    text = "User likes tea."
    assert categorize(text, CUSTOM) == ()
    assert categorize(text, (*CUSTOM, Category("Misc", "Everything else"))) == ("Misc",)


def test_default_names_in_a_custom_catalogue_keep_their_word_lists() -> None:
    catalogue = (Category("travel", "my own words"), Category("pets", "Animals the user keeps"))
    assert categorize("User flew to Lisbon with her pet.", catalogue) == ("travel", "pets")
    assert categorize("User enjoys words.", catalogue) == ()


def test_categorize_is_deterministic() -> None:
    texts = [
        "Alice's sister cooked pizza, played guitar, went skiing in Japan and bought a laptop.",
        "User has a project deadline on Friday.",
        "Nothing to see.",
    ]
    for catalogue in (DEFAULT_CATEGORIES, CUSTOM):
        first = [categorize(text, catalogue) for text in texts]
        assert first == [categorize(text, catalogue) for text in texts]
        assert first == [categorize(text, tuple(catalogue)) for text in reversed(texts)][::-1]


# ---------------------------------------------------------------- the offline extractor


def _extract(content: str, categories: tuple[Category, ...] = ()) -> list[tuple[str, tuple[str, ...]]]:
    request = ExtractionRequest(
        messages=[Message(role="user", content=content, name="Alice")], observed_at=OBSERVED, categories=categories
    )
    result = asyncio.run(OfflineExtractor().extract(request))
    return [(fact.text, fact.categories) for fact in result.facts]


def test_offline_extractor_categorises_with_the_default_catalogue() -> None:
    assert _extract("Hi! I adopted a puppy. I'm training for a marathon!") == [
        ("Alice adopted a puppy.", ("family", "milestones")),
        ("Alice is training for a marathon.", ("sports",)),
    ]
    assert _extract("I'm excited about the future.") == [("Alice is excited about the future.", ("misc",))]


def test_offline_extractor_uses_the_requests_categories() -> None:
    assert _extract("I walk my pet every day. My kids love soccer.", CUSTOM) == [
        ("Alice walks their pet every day.", ("pets",)),
        ("Alice's kids love soccer.", ("Kids",)),
    ]
    assert _extract("I love tea.", CUSTOM) == [("Alice loves tea.", ())]


def test_offline_extractor_categorises_large_adds_too() -> None:
    request = ExtractionRequest(messages=[Message(role="user", content="I like tea. " * 2000)], observed_at=OBSERVED)
    (fact,) = asyncio.run(OfflineExtractor().extract(request)).facts
    assert fact.categories == ("food", "user_preferences")
