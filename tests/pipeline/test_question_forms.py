"""Short personal questions and the statements that answer them (issue 14): a question's topic finds the
statement holding its vocabulary although they share no word, and a question about now prefers the present
state to an earlier one (and the other way round). The retriever is called on a real PostgreSQL with the
real embedding model."""

from __future__ import annotations

import pytest

from mnemo.domain.memories import Scope
from mnemo.domain.question_forms import NO_FORM, OTHER_TENSE, TOPIC_KEYWORD, question_form
from mnemo.domain.scoring import about_someone_else
from mnemo.providers.embedding.batcher import EmbeddingBatcher
from mnemo.storage import ProjectData
from tests.pipeline.test_calibration import search
from tests.pipeline.test_retrieve import remember

pytestmark = pytest.mark.anyio

OSCAR = [
    "I used to work as a postman before I went back to college.",
    "I'm a physiotherapist at a clinic in Porto.",
    "I'd like to open my own practice one day.",
    "My dad drives a taxi in Lisbon.",
    "I swim in the sea every morning before work.",
    "My sister works at a bank in London.",
    "I play bass in a jazz band on Fridays.",
    "I can't stand coriander, it tastes like soap to me.",
    "We have a ginger cat called Mango.",
    "I grew up in a fishing village near Aveiro.",
]


def test_a_question_of_no_known_form_changes_nothing() -> None:
    form = question_form("When did Caroline go to the LGBTQ support group?")
    assert form == NO_FORM and not form.applies
    assert form.keyword("I went to the support group yesterday.", 0.2) == 0.2
    assert form.factor("I went to the support group yesterday.") == 1.0


def test_a_topic_gives_its_statements_a_keyword_signal_and_the_tense_picks_between_them() -> None:
    now, before = question_form("What is his job?"), question_form("What job did he have before?")
    assert now.applies and (now.tense, before.tense) == ("present", "past")
    teacher, clerk = "I'm a secondary school maths teacher.", "I used to work as a bank clerk."
    assert now.keyword(teacher, 0.0) == TOPIC_KEYWORD, "an occupation answers a job question"
    assert now.keyword("My favourite band is Radiohead.", 0.0) == 0.0
    assert now.keyword("I swim in the sea every morning before work.", 0.0) == 0.0, "a time of day, not a job"
    assert now.keyword("I'm so tired when I get home from work.", 0.0) == 0.0
    assert now.keyword("I work at a bank, the work is dull.", 0.0) == TOPIC_KEYWORD
    assert now.keyword(clerk, 0.6) == 0.6, "a stronger keyword match is kept"
    assert (now.factor(teacher), now.factor(clerk)) == (1.0, OTHER_TENSE)
    assert (before.factor(teacher), before.factor(clerk)) == (OTHER_TENSE, 1.0)
    assert now.factor("I'd like to switch to part-time work next year.") == OTHER_TENSE, "a plan is not the job"
    dog = question_form("What kind of dog does he have?")
    assert dog.keyword("We have a golden retriever called Bruno.", 0.0) == TOPIC_KEYWORD, "a breed answers it"
    assert not question_form("taking the puppy outside").applies, "naming a pet does not ask about one"
    father = question_form("What does her father do?")
    assert father.keyword("My dad runs a noodle shop.", 0.0) > father.keyword("My partner is a nurse.", 0.0)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("What is his job?", "I'm a physiotherapist at a clinic in Porto."),
        ("What job did Oscar have before?", "I used to work as a postman before I went back to college."),
        ("What does his father do?", "My dad drives a taxi in Lisbon."),
        ("What sport does Oscar do?", "I swim in the sea every morning before work."),
        ("What music does he like?", "I play bass in a jazz band on Fridays."),
        ("What kind of pet does he have?", "We have a ginger cat called Mango."),
        ("Where is Oscar from originally?", "I grew up in a fishing village near Aveiro."),
    ],
)
async def test_short_personal_questions_find_statements_that_share_no_word_with_them(
    project: ProjectData, batcher: EmbeddingBatcher, question: str, answer: str
) -> None:
    await remember(project, batcher, OSCAR, scope=Scope(user_id="oscar"))
    ranked = await search(project, batcher, question, "oscar")
    assert ranked[0]["memory"] == answer, [(r["memory"], r["score"], r["score_breakdown"]) for r in ranked[:4]]


def test_an_extracted_fact_about_the_users_relative_is_about_someone_else() -> None:
    """The offline extractor writes "User's mom ...": for "What is her job?" that is not her job."""
    assert about_someone_else("What is her job?", "User's mom is a librarian back in Ohio.")
    assert about_someone_else("Where does Carlos live now?", "User’s ex-wife lives in Seville.")
    assert not about_someone_else("What is her job?", "User is a nurse in the emergency department.")
    assert not about_someone_else("What does her mother do?", "User's mom is a librarian back in Ohio.")
