"""Memory categories: the default catalogue and a deterministic keyword classifier for extractors without an LLM.

The classifier reduces the words of a text and of its word lists to crude stems (plural, "-ing" and "-ed"
endings, a doubled final consonant and a final "e" are stripped, so "painting", "painted" and "paints" all
match "paint", and "dancing" matches "dance") and counts, per category, the distinct list entries the text
contains; multi-word entries ("ice cream") match as consecutive stems. The best-scoring categories win (ties
in catalogue order), at most :data:`MAX_CATEGORIES`; the fallback category only when nothing else matches.

Categories of the default catalogue use the word lists below. Any other category (a custom catalogue's)
is matched on the content words of its name and description.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from mnemo.domain.stemming import stem
from mnemo.pipeline.extraction import Category

__all__ = ["DEFAULT_CATEGORIES", "FALLBACK_CATEGORY", "MAX_CATEGORIES", "categorize", "stem"]

DEFAULT_CATEGORIES: tuple[Category, ...] = (
    Category("personal_details", "Name, age, where they live, relationships, important personal dates"),
    Category("family", "Family members, relationships and family events"),
    Category("professional_details", "Job, employer, role, skills, career and work projects"),
    Category("sports", "Sports played or followed, teams, athletic activities"),
    Category("travel", "Trips, travel plans, destinations and travel preferences"),
    Category("food", "Food and drink preferences, diets, allergies, restaurants, cooking"),
    Category("music", "Music tastes, artists, instruments, concerts"),
    Category("health", "Physical and mental health, fitness, medical conditions, wellbeing"),
    Category("technology", "Devices, software, tools and technical interests"),
    Category("hobbies", "Hobbies, pastimes and leisure activities"),
    Category("fashion", "Clothing, style and fashion preferences"),
    Category("entertainment", "Movies, TV series, books, games and other media"),
    Category("milestones", "Achievements, life events and milestones"),
    Category("user_preferences", "Likes, dislikes, habits and general preferences"),
    Category("misc", "Anything that fits no other category"),
)
#: Given to a text that matches no other category, when the catalogue has it.
FALLBACK_CATEGORY = "misc"
MAX_CATEGORIES = 3

# Entries are separated by whitespace; "_" joins the words of a phrase ("ice_cream"), which matches only as
# consecutive words. Matching is on stems (see stem()), so one form of a word usually covers the others.
_DEFAULT_WORDS: Mapping[str, str] = {
    "personal_details": """
        name named nickname age years_old birthday born hometown grew_up live lived living lives_in address apartment
        house neighborhood neighbourhood neighbor neighbour roommate moved move relocate friend friends friendship
        best_friend boyfriend girlfriend partner dating single divorced identity gender transgender trans lgbt lgbtq
        pride community gay lesbian queer religion religious faith church christian muslim jewish nationality
        citizen immigrant country native background heritage culture personality
    """,
    "family": """
        family families mom mum mother dad father parent parents sister brother sibling siblings son daughter kid
        kids child children baby babies toddler teen teenager wife husband spouse fiance fiancee grandma grandmother
        grandpa grandfather grandparent grandchild granddaughter grandson aunt uncle cousin niece nephew in-law
        in-laws stepmother stepfather stepson stepdaughter twin twins relative relatives household pet pets dog dogs
        puppy cat cats kitten
    """,
    "professional_details": """
        job jobs work worked working workplace career profession professional employer employee company companies
        firm office boss manager colleague coworker co-worker team team_lead client customer business startup
        entrepreneur investor investors freelance freelancer salary paycheck promotion promoted hired hire interview
        resume intern internship project deadline meeting presentation engineer developer designer teacher nurse
        lawyer accountant consultant researcher scientist counselor counsellor therapist chef mechanic architect
        analyst occupation skill skills certification school college university degree study studying studied
        student class classes thesis exam workshop conference new_job
    """,
    "sports": """
        sport sports football soccer basketball baseball softball tennis golf hockey volleyball rugby cricket
        badminton swim swimming run running runner jog jogging marathon half_marathon race triathlon cycling cyclist
        bike biking ski skiing snowboard snowboarding surf surfing skate skating skateboard climb climbing boxing
        wrestling karate judo martial_arts kayak kayaking rowing athlete athletic league tournament championship
        coach stadium olympics team workout gym
    """,
    "travel": """
        travel traveled travelled traveling travelling trip trips vacation holiday holidays getaway flight flights
        fly flew airport plane airline hotel hostel resort passport visa abroad overseas tour tourist sightseeing
        cruise beach island destination backpack backpacking road_trip camping camp itinerary visit visited visiting
        explore exploring country countries luggage suitcase
    """,
    "food": """
        food foods eat eating ate meal meals breakfast brunch lunch dinner supper snack dessert cook cooking cooked
        bake baking baked bakery recipe recipes kitchen chef restaurant restaurants cafe diner cuisine dish dishes
        pizza pasta sushi burger burgers sandwich salad soup steak chicken beef pork fish seafood vegetable
        vegetables fruit fruits bread cheese cake cakes cookie cookies pie chocolate ice_cream candy coffee tea wine
        beer drink drinks cocktail juice smoothie vegan vegetarian gluten dairy allergy allergic peanut peanuts
        spicy sweet_tooth delicious tasty flavor flavour grill barbecue bbq picnic
    """,
    "music": """
        music musical musician song songs sing singing singer sang band bands concert concerts gig album albums
        playlist guitar piano keyboard violin cello viola drum drums drummer flute saxophone trumpet clarinet
        ukulele harp instrument instruments orchestra choir symphony opera jazz classical hip_hop rap country_music
        rock_music pop_music indie melody lyrics compose composer composing vinyl dj festival karaoke spotify
    """,
    "health": """
        health healthy unhealthy doctor doctors hospital clinic nurse sick illness ill disease condition diagnosis
        diagnosed symptom symptoms injury injured hurt pain ache surgery operation recovery recover recovering heal
        healing therapy therapist counseling counselling mental mental_health anxiety depression stress stressed
        stressful burnout panic trauma medication medicine pill pills prescription vaccine allergy allergic asthma
        diabetes cancer covid flu fever migraine blood_pressure weight diet dieting nutrition exercise exercising
        workout gym fitness yoga pilates meditation meditate mindfulness sleep insomnia self-care wellbeing
        well-being wellness checkup check-up physical_therapy rehab sober
    """,
    "technology": """
        technology tech computer computers laptop pc phone smartphone iphone android tablet ipad app apps software
        hardware code coding programming programmer developer website web internet online gadget gadgets device
        devices ai artificial_intelligence robot robotics data database server python javascript smartwatch
        headphones earbuds drone vr virtual_reality crypto bitcoin blockchain email social_media keyboard printer
        wifi digital cyber electronics
    """,
    "hobbies": """
        hobby hobbies pastime pastimes leisure paint painting painter draw drawing sketch sketching art drew artwork
        artist craft crafts crafting knit knitting crochet sew sewing embroidery pottery ceramics sculpt sculpture
        garden gardening plant plants flower flowers photography photographer camera hike hiking hiker camping
        fishing hunting birdwatching bird_watching read reading write writing wrote poem poems poetry journal
        journaling blog blogging collect collecting collection puzzle puzzles chess board_game board_games
        woodworking diy lego origami calligraphy scrapbook dance dancing dancer volunteer volunteering club
        stargazing astronomy outdoors creative creativity
    """,
    "fashion": """
        fashion fashionable style stylish clothes clothing outfit outfits dress dresses shirt shirts t-shirt blouse
        skirt jeans pants trousers jacket coat sweater hoodie shoe shoes sneakers boots heels sandals hat scarf
        gloves bag handbag purse jewelry jewellery necklace bracelet earrings accessories accessory makeup lipstick
        haircut hairstyle hair tattoo tattoos wardrobe designer boutique brand wear wearing wore
    """,
    "entertainment": """
        movie movies film films cinema tv television series episode episodes sitcom netflix hulu streaming
        documentary actor actress celebrity book books novel novels author reading read library comic comics manga
        anime cartoon game games gaming gamer video_game video_games playstation xbox nintendo theater theatre
        musical comedy comedian stand-up podcast podcasts youtube magazine fantasy sci-fi horror thriller marvel
        disney museum exhibition
    """,
    "milestones": """
        milestone milestones achievement achievements achieve achieved accomplish accomplished accomplishment award
        awards won win winning prize graduate graduated graduation degree diploma certificate promotion promoted
        new_job hired wedding married marriage engaged engagement anniversary birthday born pregnant pregnancy
        newborn adopt adopted adoption retire retired retirement first_time finally finished completed complete
        published publish launched launch celebrate celebrated celebration proud
    """,
    "user_preferences": """
        prefer prefers preferred preference preferences favorite favourite favorites love loves loved like likes
        liked enjoy enjoys enjoyed hate hates hated dislike dislikes fan passionate passion obsessed always usually
        often habit habits routine routines tend rather can't_stand
    """,
}

# Words of a custom category's name or description that say nothing about a text.
_DESCRIPTION_STOP_WORDS = frozenset(
    """
    a an the and or but of for to in on at by with from about as into any anything everything other others
    their they them its it this that these those is are be been being has have had do does done no not
    user users assistant person people someone something things thing stuff etc e.g i.e such like
    including include includes general related relating regarding about all each every what which who
    where when how why there here fits fit category categories misc miscellaneous
    """.split()
)

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NAME_SEPARATORS = re.compile(r"[\s_-]+")


def _stems(text: str) -> tuple[str, ...]:
    return tuple(stem(token) for token in _TOKEN.findall(text.lower().replace("’", "'")))


@lru_cache(maxsize=1)
def _default_index() -> Mapping[str, frozenset[tuple[str, ...]]]:
    index: dict[str, frozenset[tuple[str, ...]]] = {}
    for name, words in _DEFAULT_WORDS.items():
        index[name] = frozenset(_stems(entry.replace("_", " ")) for entry in words.split())
    return index


def _category_key(name: str) -> str:
    return _NAME_SEPARATORS.sub("_", name.strip().lower())


@lru_cache(maxsize=256)
def _custom_entries(name: str, description: str) -> frozenset[tuple[str, ...]]:
    words = _TOKEN.findall(f"{_NAME_SEPARATORS.sub(' ', name)} {description}".lower())
    return frozenset((stem(word),) for word in words if word not in _DESCRIPTION_STOP_WORDS and len(word) > 2)


def _entries_of(category: Category) -> frozenset[tuple[str, ...]]:
    key = _category_key(category.name)
    default = _default_index().get(key)
    if default is not None:
        return default
    return _custom_entries(category.name, category.description)


class _TextStems:
    """A text's stems, with its runs of consecutive stems by length (built when a phrase of that length is
    first looked up), so finding a phrase is one set lookup: sliding each phrase over the text cost
    phrases x words (~70 ms for 16,000 words)."""

    def __init__(self, text: str) -> None:
        self.stems = _stems(text)
        self._runs: dict[int, frozenset[tuple[str, ...]]] = {1: frozenset((stem,) for stem in self.stems)}

    def runs(self, length: int) -> frozenset[tuple[str, ...]]:
        """The distinct runs of ``length`` consecutive stems."""
        found = self._runs.get(length)
        if found is None:
            found = frozenset(tuple(self.stems[i : i + length]) for i in range(len(self.stems) - length + 1))
            self._runs[length] = found
        return found


@dataclass(frozen=True, slots=True)
class _Index:
    """A catalogue ready to score texts: its categories (the first of each name, the fallback aside) and, for each
    entry, which of them list it. A text is scored by looking its runs up here (a fact has a few dozen), not by
    looking every entry of every category up in the text (about a thousand for the default catalogue)."""

    #: (position in the catalogue, name) of each category scored
    scored: tuple[tuple[int, str], ...]
    #: the name of the catalogue's fallback category, if any
    fallback: str | None
    #: each entry, and the indexes (into ``scored``) of the categories that list it
    entries: Mapping[tuple[str, ...], tuple[int, ...]]
    #: the lengths (in stems) of the entries
    lengths: tuple[int, ...]


@lru_cache(maxsize=256)
def _index(catalogue: tuple[Category, ...]) -> _Index:
    scored: list[tuple[int, str]] = []
    fallback: str | None = None
    seen: set[str] = set()
    listing: dict[tuple[str, ...], list[int]] = {}
    for position, category in enumerate(catalogue):
        if category.name in seen:
            continue
        seen.add(category.name)
        if _category_key(category.name) == FALLBACK_CATEGORY:
            fallback = fallback or category.name
            continue
        for entry in _entries_of(category):
            listing.setdefault(entry, []).append(len(scored))
        scored.append((position, category.name))
    entries = {entry: tuple(owners) for entry, owners in listing.items()}
    return _Index(tuple(scored), fallback, entries, tuple(sorted({len(entry) for entry in entries})))


def categorize(text: str, catalogue: Sequence[Category]) -> tuple[str, ...]:
    """The names of the (at most MAX_CATEGORIES) categories of ``catalogue`` that ``text`` is about.

    A category scores the number of its distinct entries (words, or phrases as consecutive stems) the text holds.
    Best-matching first, ties in catalogue order. When none matches: the catalogue's fallback category
    ("misc", any spelling) if it has one, else nothing. Same text and catalogue, same answer.
    """
    index = _index(tuple(catalogue))
    text_stems = _TextStems(text)
    counts = [0] * len(index.scored)
    for length in index.lengths:
        for run in text_stems.runs(length):
            for owner in index.entries.get(run, ()):
                counts[owner] += 1
    pairs = zip(counts, index.scored, strict=True)
    scored = sorted((-count, position, name) for count, (position, name) in pairs if count)
    if not scored:
        return (index.fallback,) if index.fallback is not None else ()
    return tuple(name for _, _, name in scored[:MAX_CATEGORIES])
