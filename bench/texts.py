"""Synthetic personal facts, chat turns and questions for the load benchmarks.

Sentences are filled from templates (people, places, hobbies, foods, jobs, dates, pets, ...) by a
seeded random generator, so every run sees the same varied, realistic-looking texts. No dataset is
involved.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

NAMES = (
    "Alice Bob Carmen Dmitri Elena Farid Grace Hiroshi Ines Jamal Kofi Lena Marco Nadia Olivier Priya Quentin"
    " Rosa Sanjay Tomas Uma Viktor Wen Ximena Yusuf Zoe Amara Bruno Chloe Diego Emeka Freya Gustavo Hana Ivan"
    " Julia Kenji Leila Mateo Noor Oscar Paula Rahul Sofia Theo Valentina William Yara"
).split()
RELATIONS = (
    "sister|brother|mother|father|daughter|son|cousin|aunt|uncle|grandmother|grandfather|best friend"
    "|partner|wife|husband|neighbour|colleague|manager|roommate|niece|nephew|old school friend"
).split("|")
CITIES = (
    "Lisbon|Berlin|Toronto|Osaka|Nairobi|Melbourne|Denver|Austin|Porto|Kraków|Seoul|Dublin|Montreal|Oaxaca"
    "|Cape Town|Edinburgh|Vancouver|Barcelona|Hanoi|Reykjavik|Chicago|Lyon|Munich|Bangalore|Santiago"
    "|Wellington|Tbilisi|Istanbul|Seattle|Buenos Aires|Copenhagen|Marrakesh|Boston|Kyoto|Valencia|Zurich"
).split("|")
PLACES = (
    "the Dolomites|Yosemite|the Lake District|Patagonia|the Scottish Highlands|Banff|the Amalfi Coast"
    "|Crete|the Alps|Big Sur|Hokkaido|the Atacama desert|Tasmania|the Azores|Lapland|Bali|Iceland"
).split("|")
HOBBIES = (
    "rock climbing|bouldering|salsa dancing|pottery|trail running|birdwatching|chess|woodworking|knitting"
    "|sourdough baking|watercolour painting|surfing|photography|playing the cello|learning Japanese"
    "|gardening|cycling|yoga|board games|open-water swimming|calligraphy|astronomy|fly fishing|skiing"
).split("|")
FOODS = (
    "ramen|pad thai|lasagne|sushi|tacos al pastor|dumplings|pho|shakshuka|paella|butter chicken"
    "|mushroom risotto|falafel|bibimbap|pierogi|ceviche|margherita pizza|lamb tagine|dark chocolate"
    "|cheesecake|pistachio gelato|croissants|kimchi stew|green curry|tiramisu"
).split("|")
DISLIKES = "cilantro|olives|blue cheese|mushrooms|anchovies|liquorice|oysters|raw onions|beetroot|tofu".split("|")
ALLERGIES = "peanuts|shellfish|gluten|lactose|cats|pollen|penicillin|tree nuts|sesame|eggs".split("|")
JOBS = (
    "nurse|software engineer|high-school teacher|architect|pharmacist|data analyst|chef|accountant"
    "|graphic designer|civil engineer|paramedic|product manager|veterinarian|electrician|journalist"
    "|physiotherapist|lawyer|UX researcher|pilot|barista|librarian|marine biologist"
).split("|")
EMPLOYERS = (
    "a small startup|a hospital|the city council|a design agency|a logistics company|a university"
    "|a bank|a bakery|an airline|a renewable energy company|a law firm|a game studio|a museum"
).split("|")
PETS = "dog|cat|rabbit|parrot|hamster|tortoise|golden retriever|border collie|tabby cat|beagle".split("|")
PET_NAMES = "Biscuit Luna Pepper Milo Mochi Rex Nala Ziggy Olive Pickles Bean Juniper Waffles Sprout".split()
BOOKS = (
    "Dune|The Hobbit|Pride and Prejudice|Sapiens|The Overstory|Project Hail Mary|Circe|The Road"
    "|Beloved|Middlemarch|Piranesi|The Name of the Wind|Educated|Klara and the Sun"
).split("|")
MONTHS = "January February March April May June July August September October November December".split()
WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
INSTRUMENTS = "guitar|piano|violin|drums|ukulele|saxophone|trumpet|bass guitar|flute|accordion".split("|")
SPORTS_TEAMS = "the Lakers|Arsenal|FC Barcelona|the Yankees|the Maple Leafs|Bayern Munich|the Packers".split("|")

FACTS = (
    "My {relation} {name} just moved to {city}.",
    "I've been {hobby} every {weekday} since {month}.",
    "I work as a {job} at {employer} in {city}.",
    "My favourite food is {food}, especially the one from a little place in {city}.",
    "{name} and I are going hiking in {place} on {month} {day}.",
    "I'm allergic to {allergy}, so please keep that in mind.",
    "My birthday is on {month} {day}.",
    "My {relation} {name}'s birthday is on {month} {day}.",
    "I can't stand {dislike}.",
    "We adopted a {pet} called {pet_name} last {month}.",
    "I'm reading {book} at the moment and really enjoying it.",
    "I started learning the {instrument} in {year}.",
    "I grew up in {city} but I've lived in {city2} for {years} years.",
    "I'm training for a half marathon in {city} in {month}.",
    "My {relation} {name} works as a {job}.",
    "I'm vegetarian, but I still love {food}.",
    "I'm planning a trip to {place} with {name} in {month}.",
    "I've been a fan of {team} since I was a kid.",
    "I usually cook {food} on {weekday} evenings.",
    "{name} recommended {book} to me and I loved it.",
    "I'm thinking about switching careers to become a {job}.",
    "My {relation} {name} is getting married in {city} on {month} {day}, {year}.",
    "I take my {pet} {pet_name} to the park every morning before work.",
    "I had {food} for dinner with {name} last {weekday}.",
    "I'm trying to cut down on coffee; I'm down to {small} cups a day.",
    "I sprained my ankle {hobby} in {place} back in {year}.",
    "My {relation} {name} lives in {city} and teaches {hobby}.",
    "I'd love to visit {city} someday, mostly for the {food}.",
    "I joined a {hobby} club in {city} with my {relation}.",
    "Our anniversary is {month} {day}; we met in {city} in {year}.",
)
REPLIES = (
    "That sounds wonderful, thanks for telling me!",
    "Got it, I'll remember that.",
    "Nice! How long have you been doing that?",
    "Thanks for sharing. Anything else I should know?",
    "Noted. I'll keep that in mind for future suggestions.",
    "That's great to hear. Do you want some tips?",
    "Oh, interesting! What got you into it?",
    "Understood, I'll take that into account.",
)
QUESTIONS = (
    "Where does my {relation} live?",
    "What do I do for work?",
    "What is my favourite food?",
    "When is my birthday?",
    "What am I allergic to?",
    "What hobbies do I have?",
    "What's the name of my {pet}?",
    "Which book am I reading right now?",
    "When is {name}'s birthday?",
    "Where am I travelling with {name}?",
    "What food do I dislike?",
    "Which instrument am I learning?",
    "What did I eat with {name} last week?",
    "Where did I grow up?",
    "Which team do I support?",
    "Is anyone in my family getting married soon?",
    "What sport am I training for?",
    "Who recommended a book to me?",
    "Where does {name} live?",
    "What trips am I planning in {month}?",
)


def _fill(template: str, rng: random.Random) -> str:
    city, city2 = rng.sample(CITIES, 2)
    return template.format(
        relation=rng.choice(RELATIONS),
        name=rng.choice(NAMES),
        city=city,
        city2=city2,
        place=rng.choice(PLACES),
        hobby=rng.choice(HOBBIES),
        food=rng.choice(FOODS),
        dislike=rng.choice(DISLIKES),
        allergy=rng.choice(ALLERGIES),
        job=rng.choice(JOBS),
        employer=rng.choice(EMPLOYERS),
        pet=rng.choice(PETS),
        pet_name=rng.choice(PET_NAMES),
        book=rng.choice(BOOKS),
        instrument=rng.choice(INSTRUMENTS),
        team=rng.choice(SPORTS_TEAMS),
        month=rng.choice(MONTHS),
        weekday=rng.choice(WEEKDAYS),
        day=rng.randint(1, 28),
        year=rng.randint(1995, 2025),
        years=rng.randint(2, 25),
        small=rng.randint(1, 3),
    )


def fact(rng: random.Random) -> str:
    """One personal fact, as a user would state it."""
    return _fill(rng.choice(FACTS), rng)


def distinct_facts(rng: random.Random) -> Iterator[str]:
    """An endless stream of personal facts, none repeated (the template space is in the billions)."""
    seen: set[str] = set()
    while True:
        text = fact(rng)
        if text not in seen:
            seen.add(text)
            yield text


def reply(rng: random.Random) -> str:
    return rng.choice(REPLIES)


def question(rng: random.Random) -> str:
    """A question a user might ask about their own memories."""
    return _fill(rng.choice(QUESTIONS), rng)


def conversation(rng: random.Random) -> list[dict[str, str]]:
    """A short chat: one to three user facts, each usually answered by the assistant."""
    messages = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        messages.append({"role": "user", "content": fact(rng)})
        if rng.random() < 0.7:
            messages.append({"role": "assistant", "content": reply(rng)})
    return messages
