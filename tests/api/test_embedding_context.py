"""A message kept verbatim is embedded with the messages before it, so a reply is found by what it answers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from testkit.server import MnemoServer, serving, start_worker, wait_event
from tests.observability.support import scrape, value

CONVERSATION = [
    ("Caroline", "I adopted a puppy from the shelter last week."),
    ("Melanie", "That's wonderful! What did you call her?"),
    ("Caroline", "Biscuit, after my favourite snack."),
    ("Melanie", "I finally finished painting the kitchen blue."),
    ("Caroline", "Work has been hectic with the product launch."),
]
REPLY = "Biscuit, after my favourite snack."
QUESTION = "What is the name of Caroline's dog?"


@pytest.fixture
def alone(database_url: str, model_dir: Path, tmp_path: Path) -> Iterator[MnemoServer]:
    """A server that embeds every message alone (context turned off), on its own database so that its
    workers, not another server's, run its infer=true adds."""
    with _serving(tmp_path / "alone", database_url, model_dir, MNEMO_EMBEDDING_CONTEXT_MESSAGES="0") as running:
        yield running


@pytest.fixture
def joint(database_url: str, model_dir: Path, tmp_path: Path) -> Iterator[MnemoServer]:
    """A server whose model reads each message with the ones before it (``MNEMO_EMBEDDING_CONTEXT=joint``)."""
    with _serving(tmp_path / "joint", database_url, model_dir, MNEMO_EMBEDDING_CONTEXT="joint") as running:
        yield running


@pytest.fixture
def mixed(database_url: str, model_dir: Path, tmp_path: Path) -> Iterator[MnemoServer]:
    """A server that mixes the earlier messages' own vectors into a message's (``MNEMO_EMBEDDING_CONTEXT=mixed``)."""
    with _serving(tmp_path / "mixed", database_url, model_dir, MNEMO_EMBEDDING_CONTEXT="mixed") as running:
        yield running


def _serving(
    data_dir: Path, database_url: str, model_dir: Path, *args: str, **env: str
) -> AbstractContextManager[MnemoServer]:
    return serving(data_dir, database_url=database_url, model_dir=model_dir, extra_env=env, extra_args=list(args))


def _add(server: MnemoServer, user: str, turns: list[tuple[str, str]]) -> None:
    messages = [{"role": "user", "name": name, "content": text} for name, text in turns]
    with server.client() as client:
        response = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user, "infer": False})
        assert response.status_code == 200, response.text


def _reply_similarity(server: MnemoServer, user: str) -> tuple[float, list[str]]:
    """The reply's semantic similarity to the question, and the ranked memories."""
    with server.client() as client:
        body: dict[str, Any] = {"query": QUESTION, "filters": {"user_id": user}, "threshold": 0, "top_k": 10}
        response = client.post("/v3/memories/search/", json=body)
        assert response.status_code == 200, response.text
    results = response.json()["results"]
    reply = next(r for r in results if r["memory"] == REPLY)
    return reply["score_breakdown"]["semantic"], [r["memory"] for r in results]


def _user() -> str:
    return f"ctx-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("context", ["joint", "mixed"])
def test_a_reply_is_found_by_the_question_it_answers(
    request: pytest.FixtureRequest, context: str, alone: MnemoServer
) -> None:
    server: MnemoServer = request.getfixturevalue(context)
    with_context, without_context = _user(), _user()
    for name, text in CONVERSATION:  # one add per turn, as a chat app sends them
        _add(server, with_context, [(name, text)])
        _add(alone, without_context, [(name, text)])
    similarity, ranked = _reply_similarity(server, with_context)
    similarity_alone, _ = _reply_similarity(alone, without_context)
    assert similarity > similarity_alone + 0.05
    assert ranked.index(REPLY) <= 1


@pytest.mark.parametrize("context", ["joint", "mixed"])
def test_earlier_messages_of_the_same_add_are_context_too(request: pytest.FixtureRequest, context: str) -> None:
    server: MnemoServer = request.getfixturevalue(context)
    per_turn, one_add = _user(), _user()
    for name, text in CONVERSATION:
        _add(server, per_turn, [(name, text)])
    _add(server, one_add, CONVERSATION)
    assert _reply_similarity(server, one_add)[0] == pytest.approx(_reply_similarity(server, per_turn)[0], abs=0.02)


def test_context_stays_out_of_the_stored_text_and_other_scopes(server: MnemoServer) -> None:
    user, other = _user(), _user()
    _add(server, other, CONVERSATION[:2])  # another user's puppy talk is not this user's context
    _add(server, user, [CONVERSATION[2]])
    with server.client() as client:
        memories = client.post("/v3/memories/", json={"filters": {"user_id": user}}).json()["results"]
    assert [m["memory"] for m in memories] == [REPLY]
    alone_similarity, _ = _reply_similarity(server, user)
    per_turn = _user()
    for name, text in CONVERSATION:
        _add(server, per_turn, [(name, text)])
    assert _reply_similarity(server, per_turn)[0] > alone_similarity + 0.05


def test_mixed_context_does_not_depend_on_the_process_that_added_the_earlier_messages(
    mixed: MnemoServer, database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """A process remembers the own vectors of the messages it embedded; one that did not see them embeds them again,
    to the same vector (give or take int8's batching noise: the second process embeds the three texts in one batch).
    The context comes from the scope alone: another user's messages of the same text are not it."""
    one_process, two_processes, other = _user(), _user(), _user()
    for name, text in CONVERSATION[:3]:
        _add(mixed, one_process, [(name, text)])
    _add(mixed, other, [CONVERSATION[2]])
    env = {"MNEMO_EMBEDDING_CONTEXT": "mixed"}
    with serving(
        tmp_path / "second", database_url=database_url, model_dir=model_dir, api_key=mixed.api_key, extra_env=env
    ) as second:
        for name, text in CONVERSATION[:2]:
            _add(mixed, two_processes, [(name, text)])
        _add(second, two_processes, [CONVERSATION[2]])
    same, _ = _reply_similarity(mixed, one_process)
    assert _reply_similarity(mixed, two_processes)[0] == pytest.approx(same, abs=0.02)
    assert _reply_similarity(mixed, other)[0] < same - 0.05


def _pending(server: MnemoServer) -> float:
    return value(scrape(server.url)[0], "mnemo_pending_final_vectors")


def test_deferred_context_gives_the_joint_vector_once_a_worker_has_computed_it(
    module_database_url: str, database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """An API process alone (no workers) stores the mixed vector and queues the joint one; a worker computes it.
    A memory deleted meanwhile takes its queued input with it; one rewritten meanwhile keeps its new text's vector.
    fp32: a text's vector does not depend on the texts embedded with it (int8's moves by up to ~0.02 of cosine).
    The servers that compare run on the module's database, whose workers would otherwise compute the queue."""
    fp32 = {"MNEMO_EMBEDDER_PRECISION": "fp32"}
    env = {"MNEMO_EMBEDDING_CONTEXT": "deferred", **fp32}
    with (
        _serving(tmp_path / "deferred", database_url, model_dir, "--no-workers", **env) as api,
        _serving(tmp_path / "mixed", module_database_url, model_dir, MNEMO_EMBEDDING_CONTEXT="mixed", **fp32) as mixed,
        _serving(tmp_path / "joint", module_database_url, model_dir, MNEMO_EMBEDDING_CONTEXT="joint", **fp32) as server,
    ):
        joint, quick, deferred, edited = _user(), _user(), _user(), _user()
        for name, text in CONVERSATION:
            _add(server, joint, [(name, text)])
            _add(mixed, quick, [(name, text)])
            _add(api, deferred, [(name, text)])
            _add(api, edited, [(name, text)])
        assert _pending(api) == 2 * (len(CONVERSATION) - 1), "the first message has no context: its vector is final"
        assert _reply_similarity(api, deferred)[0] == pytest.approx(_reply_similarity(mixed, quick)[0], abs=1e-4)
        rewritten = {"text": "Caroline's puppy is called Biscuit."}
        with api.client() as client:
            memories = client.post("/v3/memories/", json={"filters": {"user_id": edited}}).json()["results"]
            by_text = {m["memory"]: m["id"] for m in memories}
            assert client.delete(f"/v1/memories/{by_text[CONVERSATION[3][1]]}/").status_code == 200
            assert client.put(f"/v1/memories/{by_text[CONVERSATION[1][1]]}/", json=rewritten).status_code == 200
        assert _pending(api) == 2 * (len(CONVERSATION) - 1) - 1, "deleted with its memory"
        before = _similarities(api, edited)
        worker = start_worker(database_url, tmp_path / "worker.log", model_dir=model_dir, extra_env=env)
        try:
            deadline = time.monotonic() + 60
            while _pending(api) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert _pending(api) == 0
        finally:
            worker.terminate()
            worker.wait(30)
        assert _reply_similarity(api, deferred)[0] == pytest.approx(_reply_similarity(server, joint)[0], abs=1e-4)
        after = _similarities(api, edited)
        assert after[rewritten["text"]] == pytest.approx(before[rewritten["text"]], abs=1e-6)
        assert after[REPLY] != pytest.approx(before[REPLY], abs=1e-3)


def _similarities(server: MnemoServer, user: str) -> dict[str, float]:
    with server.client() as client:
        body: dict[str, Any] = {"query": QUESTION, "filters": {"user_id": user}, "threshold": 0, "top_k": 20}
        results = client.post("/v3/memories/search/", json=body).json()["results"]
    return {r["memory"]: r["score_breakdown"]["semantic"] for r in results}


def test_offline_facts_keep_their_context_too(server: MnemoServer, alone: MnemoServer) -> None:
    """The offline extractor keeps the conversation's wording, so its facts are embedded with the messages
    before them (an LLM's self-contained facts are embedded alone: see test_llm_service's same-meaning test)."""
    similarity = {}
    for label, target in (("context", server), ("alone", alone)):
        user = _user()
        for name, text in CONVERSATION:
            with target.client() as client:
                messages = [{"role": "user", "name": name, "content": text}]
                answer = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user}).json()
            assert wait_event(target, answer["event_id"])["status"] == "SUCCEEDED"
        with target.client() as client:
            body = {"query": QUESTION, "filters": {"user_id": user}, "threshold": 0}
            results = client.post("/v3/memories/search/", json=body).json()["results"]
        (fact,) = [r for r in results if r["memory"].startswith("Biscuit")]
        similarity[label] = fact["score_breakdown"]["semantic"]
    assert similarity["context"] != pytest.approx(similarity["alone"], abs=0.02)


@pytest.mark.parametrize("questions", [1, 700], ids=["short", "read-in-a-thread"])
def test_greetings_and_questions_around_a_statement_leave_its_vector_alone(alone: MnemoServer, questions: int) -> None:
    """Only the sentences that tell something are embedded; the whole message is stored. An add of more than 10,000
    characters is read off the event loop, with the same result."""
    plain, wrapped = _user(), _user()
    told = "I adopted a puppy named Biscuit last week."
    said = "Thanks, Mel! " + "How are you doing? " * questions + f"{told} Haha!"
    _add(alone, plain, [("Caroline", told)])
    _add(alone, wrapped, [("Caroline", said)])
    found = {}
    with alone.client() as client:
        for user in (plain, wrapped):
            body: dict[str, Any] = {"query": "Did Caroline get a pet?", "filters": {"user_id": user}, "threshold": 0}
            response = client.post("/v3/memories/search/", json=body)
            assert response.status_code == 200, response.text
            (found[user],) = response.json()["results"]
    assert found[wrapped]["memory"] == said
    assert found[wrapped]["score_breakdown"]["semantic"] == pytest.approx(
        found[plain]["score_breakdown"]["semantic"], abs=1e-4
    )


def test_deferred_adds_embed_jointly_while_the_workers_are_behind(
    module_database_url: str, database_url: str, model_dir: Path, tmp_path: Path
) -> None:
    """With no worker, the queued final vectors grow old. Once the oldest has waited
    ``MNEMO_FINAL_VECTORS_BEHIND_SECONDS``, adds take the joint vector at once and queue nothing more."""
    fp32 = {"MNEMO_EMBEDDER_PRECISION": "fp32"}
    env = {"MNEMO_EMBEDDING_CONTEXT": "deferred", "MNEMO_FINAL_VECTORS_BEHIND_SECONDS": "1", **fp32}
    with (
        _serving(tmp_path / "deferred", database_url, model_dir, "--no-workers", **env) as api,
        _serving(tmp_path / "joint", module_database_url, model_dir, MNEMO_EMBEDDING_CONTEXT="joint", **fp32) as server,
    ):
        early, late, joint = _user(), _user(), _user()
        for name, text in CONVERSATION:
            _add(api, early, [(name, text)])
        queued = _pending(api)
        assert queued == len(CONVERSATION) - 1
        time.sleep(2.2)  # the oldest has waited more than a second, and the process asks again
        for name, text in CONVERSATION:
            _add(api, late, [(name, text)])
            _add(server, joint, [(name, text)])
        assert _pending(api) == queued
        assert _reply_similarity(api, late)[0] == pytest.approx(_reply_similarity(server, joint)[0], abs=1e-4)
        assert _reply_similarity(api, early)[0] != pytest.approx(_reply_similarity(server, joint)[0], abs=1e-3)
