"""What a short personal question asks about, and which statements answer it.

"What is her job?" shares no word with "I'm a nurse in the emergency department", "What sport does Mei do?"
none with "I go rock climbing at the gym", and a small sentence embedder places such pairs no closer than
unrelated lines of the same person (cosines of 0.15-0.3). A person's questions are mostly of a few forms,
each answered by statements of a known vocabulary: :func:`question_form` reads the form of a question once
per search (its topic, and whether it asks about the past: "What was her job?", "What did he do before
teaching?"), and :meth:`QuestionForm.factor` then weighs each candidate memory by its own words:

- a memory holding the topic's vocabulary (an occupation, a sport, an instrument, a dish) gains
  :data:`TOPIC_GAIN` of its fused score;
- for a topic whose answers change over time (a job, a home), a memory in the other tense than the
  question's ("I used to work as a bank clerk" for "What is his job?", "I'm a teacher" for "What was his
  job before?") keeps :data:`OTHER_TENSE` of it.

Words are compared as :func:`mnemo.domain.stemming.stem` stems ("running" and "runs" are "run"). Questions
of no known form (LoCoMo's long, specific ones mostly) are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache, lru_cache

from mnemo.domain.stemming import stem

__all__ = ["OTHER_TENSE", "RELATIVE_KEYWORD", "TOPIC_KEYWORD", "QuestionForm", "question_form"]

#: The keyword signal (at least) of a memory that holds the vocabulary of the question's topic: about what
#: one matching word of the question gives (0.33-0.38).
TOPIC_KEYWORD = 0.4
#: Added to the keyword signal of a memory naming the relative the question names ("dad" for "father").
RELATIVE_KEYWORD = 0.2
#: Longer questions are left as they are: LoCoMo's questions of these forms (10-16 words, "What kind of
#: healthy food suggestions has Evan given to Sam?") lost 0.5 points of recall@10 to them.
MAX_WORDS = 8
#: The share of its fused score a memory keeps when it is in the other tense than the question, for a topic
#: whose answers change over time.
OTHER_TENSE = 0.7


@dataclass(frozen=True, slots=True)
class _Topic:
    name: str
    question: re.Pattern[str]
    #: The words of the statements that answer it ("_" joins the words of a phrase: "grew_up").
    words: str
    #: Phrases that mention one of those words without answering ("before_work": a time of day, not a job).
    asides: str = ""


_OCCUPATIONS = """
    job jobs work works worked working career profession occupation employer employed employee hired company
    firm office startup business shop boss manager retired retire intern internship freelance freelancer
    self-employed contractor teacher teach teaching lecturer professor tutor engineer developer programmer
    designer nurse doctor dentist surgeon physician vet veterinarian pharmacist paramedic midwife therapist
    physiotherapist physio psychologist psychiatrist counsellor counselor lawyer solicitor attorney judge
    accountant banker clerk cashier tester
    analyst consultant researcher scientist chemist biologist architect chef cook baker bakery barista waiter
    waitress bartender mechanic electrician plumber carpenter builder farmer driver pilot flight_attendant
    steward stewardess sailor soldier officer police firefighter journalist writer editor translator
    interpreter librarian photographer artist musician actor actress salesman saleswoman receptionist secretary
    assistant administrator hairdresser cleaner nanny caregiver carer social_worker postman courier
    entrepreneur founder owner ceo director
"""
_SPORTS = """
    sport sports exercise workout gym fitness train training football soccer basketball baseball tennis golf
    hockey volleyball rugby cricket badminton squash swim swimming run running runner jog jogging marathon 10k
    5k race triathlon cycling cyclist bike biking ski skiing snowboard surf surfing skate skating climb climbing
    bouldering boxing karate judo martial_arts kayak rowing yoga pilates crossfit hike hiking dance dancing
    athlete league
"""
_HOBBIES = """
    hobby hobbies pastime free_time spare_time weekend weekends paint painting draw drawing sketch art craft
    knit knitting crochet sew sewing embroidery pottery garden gardening photography hike hiking fishing
    birdwatching read reading write writing poetry journal collect collecting puzzle chess board_game
    woodworking lego origami calligraphy dance dancing volunteer volunteering bake baking cook cooking play
    guitar piano sing singing climb climbing camping
"""
_MUSIC = """
    music musician song songs sing singer band bands concert gig album playlist listen listening guitar piano
    violin cello drum drums flute saxophone trumpet jazz classical rap hip_hop rock pop indie opera choir
    orchestra vinyl radiohead beatles
"""
_FOOD = """
    food foods eat eating ate meal dish dishes cuisine breakfast lunch dinner snack dessert cook cooking recipe
    pizza pasta sushi ramen noodle noodles curry burger sandwich salad soup steak chicken beef pork fish
    seafood meat vegetable vegetables fruit bread cheese cake chocolate ice_cream coffee tea wine beer vegan
    vegetarian gluten dairy lactose allergy allergic peanut peanuts nut nuts spicy diet
"""
_PETS = """
    pet pets dog dogs puppy cat cats kitten rabbit bunny parrot bird budgie hamster guinea_pig tortoise turtle
    fish goldfish lizard gecko bearded_dragon snake horse pony ferret chicken chickens retriever labrador
    poodle terrier spaniel beagle collie husky dachshund bulldog pug corgi greyhound tabby siamese
"""
_ORIGIN = """
    grew_up grow_up born raised hometown originally native childhood home_town from
"""
_HOME = """
    live lives living moved move relocated based rent renting flat apartment house home neighbourhood
    neighborhood
"""
_COMMUTE = """
    commute commuting bike cycle cycling ride drive driving car bus train tram subway metro tube walk walking
    scooter ferry
"""
_TOPICS: tuple[_Topic, ...] = (
    _Topic(
        "commute",
        re.compile(r"\b(how does|how do|how did)\b.*\b(get|go|travel|commute)\b.*\b(work|office|school|job)\b"),
        _COMMUTE,
    ),
    _Topic(
        "work",
        re.compile(
            r"\b(job|jobs|occupation|profession|career|for a living|for work|do for money|employer|work as|"
            r"works as|worked as)\b|\bwhat (?:does|did|do) (?:\w+\s+){1,2}do\s*(?:before\b.*)?[?.!]*$"
        ),
        _OCCUPATIONS,
        asides="before_work after_work at_work from_work to_work off_work",
    ),
    _Topic(
        "sport",
        re.compile(r"\b(sports?|exercise|exercises|workout|work out|keep fit|fitness|athletic|train for)\b"),
        _SPORTS,
    ),
    _Topic("hobby", re.compile(r"\b(hobby|hobbies|pastime|free time|spare time|for fun)\b"), _HOBBIES),
    _Topic("music", re.compile(r"\b(music|band|bands|songs?|singer|musician|listen to)\b"), _MUSIC),
    _Topic(
        "food",
        re.compile(r"\b(food|foods|eat|eats|dish|dishes|cuisine|meal|diet|allergic|allergy|drink)\b"),
        _FOOD,
    ),
    _Topic("pet", re.compile(r"\bpets?\b|\b(what|which)\b.*\b(dogs?|cats?|puppy|kitten)\b"), _PETS),
    _Topic(
        "origin",
        re.compile(r"\b(originally|grow up|grew up|hometown|home town|born)\b|\bwhere\b.*\bfrom\b"),
        _ORIGIN,
    ),
    _Topic(
        "home",
        re.compile(r"\b(where|which city|what city|which town|which country)\b.*\b(live|lives|living|based)\b"),
        _HOME,
    ),
)

#: The topics whose answers change over time (a job, a home), so that the question's tense picks one.
_CHANGING = frozenset({"work", "home"})
#: A question about an earlier state: "What was her job?", "What did he do before teaching?".
_PAST_QUESTION = re.compile(
    r"\b(was|were|did|before|previous|previously|former|formerly|used to|earlier|originally|first job|old job)\b"
)
#: A statement of an earlier state: "I used to work as ...", "I was a dentist", "until 2021", "before that".
#: A statement of an earlier state: "I used to work as ...", "I was a dentist", "until 2021", "before that";
#: and of a plan or wish: "I'd like to switch to part-time work next year". Words and phrases of words.
_PAST_STATEMENT = (
    "was were previously formerly retired quit used_to used-to had_been before_that before_i back_then years_ago "
    "until_last left_my_job left_the_job left_that_job until_<year>"
)
_FUTURE_STATEMENT = (
    "will would_like_to <'d>_like_to want_to wants_to plan_to plans_to planning_to hope_to hoping_to going_to "
    "next_year next_month next_week one_day someday thinking_about thinking_of <'ll>"
)
_FUTURE_QUESTION = re.compile(r"\b(will|going to|plan|plans|planning|next|future|want to|hope to)\b")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


@cache
def _vocabulary(words: str) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """Single stems, and phrases as stem tuples."""
    entries = words.split()
    singles = frozenset(stem(entry) for entry in entries if "_" not in entry)
    phrases = tuple(tuple(stem(part) for part in entry.split("_")) for entry in entries if "_" in entry)
    return singles, phrases


#: Stems by word: a search stems its candidates' words, mostly the same few thousand words of a scope.
_stem = lru_cache(maxsize=65_536)(stem)


def _holds(stems: list[str], words: str) -> bool:
    singles, phrases = _vocabulary(words)
    if not singles.isdisjoint(stems):
        return True
    return any(phrase[0] in stems and next(_phrase_ends(stems, phrase), None) is not None for phrase in phrases)


def _without(stems: list[str], asides: str) -> list[str]:
    """``stems`` without the last word of each of the phrases ``asides`` ("before_work" drops that "work")."""
    if not asides:
        return stems
    _, phrases = _vocabulary(asides)
    kept = list(stems)
    for phrase in phrases:
        for end in _phrase_ends(stems, phrase):
            kept[end] = ""
    return kept


def _phrase_ends(stems: list[str], phrase: tuple[str, ...]) -> Iterator[int]:
    """The index of the last word of each place ``phrase`` (stems) occurs in ``stems``."""
    size = len(phrase)
    for i in range(len(stems) - size + 1):
        if tuple(stems[i : i + size]) == phrase:
            yield i + size - 1


_RELATIVE_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "father dad daddy papa",
        "mother mom mum mommy mummy mama",
        "parents parent",
        "brother brothers",
        "sister sisters",
        "son sons",
        "daughter daughters",
        "husband",
        "wife",
        "partner boyfriend girlfriend fiance fiancee spouse",
        "grandmother grandma granny nan",
        "grandfather grandpa granddad",
        "children kids kid child",
    )
)


def _relatives(words: list[str]) -> frozenset[str]:
    """The relative groups ``words`` name, each by its first word."""
    found = set()
    for group in _RELATIVE_GROUPS:
        if any(word in group for word in words):
            found.add(min(group))
    return frozenset(found)


_Tails = tuple[tuple[str, ...], ...]


@cache
def _markers(markers: str) -> tuple[frozenset[str], dict[str, _Tails], dict[str, _Tails]]:
    """Single words, phrases by their first word, and phrases by the ending of their first word (``<'d>``: a
    word ending in 'd); ``<year>`` in a phrase is a word of 4 digits."""
    singles: set[str] = set()
    phrases: dict[str, _Tails] = {}
    endings: dict[str, _Tails] = {}
    for entry in markers.split():
        first, *rest = entry.split("_")
        if first.startswith("<"):
            endings[first[1:-1]] = (*endings.get(first[1:-1], ()), tuple(rest))
        elif rest:
            phrases[first] = (*phrases.get(first, ()), tuple(rest))
        else:
            singles.add(first)
    return frozenset(singles), phrases, endings


def _token_is(token: str, marker: str) -> bool:
    return len(token) == 4 and token.isdigit() if marker == "<year>" else token == marker


def _said(words: list[str], markers: str) -> bool:
    singles, phrases, endings = _markers(markers)
    if not singles.isdisjoint(words):
        return True
    for index, word in enumerate(words):
        tails = phrases.get(word)
        if tails is None and "'" in word:
            tails = next((found for ending, found in endings.items() if word.endswith(ending)), None)
        for tail in tails or ():
            following = words[index + 1 : index + 1 + len(tail)]
            if len(following) == len(tail) and all(map(_token_is, following, tail)):
                return True
    return False


@lru_cache(maxsize=1024)
def _read(memory: str) -> tuple[list[str], str]:
    """A memory's words (lower case) and its tense: "past", "future" or "present" (a plan wins over a past)."""
    words = _WORD.findall(memory.lower().replace("’", "'"))
    tense = "future" if _said(words, _FUTURE_STATEMENT) else "past" if _said(words, _PAST_STATEMENT) else "present"
    return words, tense


@dataclass(frozen=True, slots=True)
class QuestionForm:
    """The form of one question: its topics, its tense, and the relatives it names."""

    topics: tuple[_Topic, ...]
    tense: str
    relatives: frozenset[str] = frozenset()

    @property
    def applies(self) -> bool:
        return bool(self.topics)

    def keyword(self, memory: str, keyword: float) -> float:
        """The keyword signal of ``memory`` for this question: at least :data:`TOPIC_KEYWORD` when it holds
        the vocabulary of the question's topic, plus :data:`RELATIVE_KEYWORD` when it names the relative
        the question names ("dad" for "father")."""
        if not self.topics:
            return keyword
        words, _ = _read(memory)
        stems = [_stem(word) for word in words]
        if any(_holds(_without(stems, topic.asides), topic.words) for topic in self.topics):
            keyword = max(keyword, TOPIC_KEYWORD)
        if self.relatives and self.relatives & _relatives(words):
            keyword = min(1.0, keyword + RELATIVE_KEYWORD)
        return keyword

    def factor(self, memory: str) -> float:
        """The multiplier of ``memory``'s fused score: :data:`OTHER_TENSE` when it is in another tense than
        the question, else 1."""
        if not any(topic.name in _CHANGING for topic in self.topics) or _read(memory)[1] == self.tense:
            return 1.0
        return OTHER_TENSE


NO_FORM = QuestionForm((), "present")


def question_form(query: str) -> QuestionForm:
    """The topics ``query`` asks about and its tense; :data:`NO_FORM` for a question of no known form or a
    long one (over :data:`MAX_WORDS` words: specific questions carry their own words)."""
    lowered = query.lower().replace("’", "'").strip()
    if len(lowered.split()) > MAX_WORDS:
        return NO_FORM
    topics = tuple(topic for topic in _TOPICS if topic.question.search(lowered))
    if not topics:
        return NO_FORM
    tense = "past" if _PAST_QUESTION.search(lowered) else "future" if _FUTURE_QUESTION.search(lowered) else "present"
    return QuestionForm(topics, tense, _relatives(_WORD.findall(lowered)))
