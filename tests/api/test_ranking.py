"""Each ranking signal at work on small hand-built cases, through the search API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from testkit.server import MnemoServer, wait_final_vectors


def _store(server: MnemoServer, user: str, *items: tuple[str, str | None, datetime | None]) -> None:
    with server.client() as client:
        for text, name, when in items:
            message: dict[str, Any] = {"role": "user", "content": text}
            if name:
                message["name"] = name
            body: dict[str, Any] = {"messages": [message], "user_id": user, "infer": False}
            if when:
                body["timestamp"] = int(when.timestamp())
            assert client.post("/v3/memories/add/", json=body).status_code == 200


def _search(server: MnemoServer, user: str, query: str, **extra: Any) -> list[dict[str, Any]]:
    with server.client() as client:
        body = {"query": query, "filters": {"user_id": user}, "threshold": 0, **extra}
        response = client.post("/v3/memories/search/", json=body)
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        return results


def _user() -> str:
    return f"rank-{uuid.uuid4().hex[:8]}"


def test_semantic_signal_finds_a_paraphrase(server: MnemoServer) -> None:
    user = _user()
    _store(
        server, user, ("My dog needs a walk twice a day.", None, None), ("The invoice is due on Friday.", None, None)
    )
    top = _search(server, user, "taking the puppy outside")[0]
    assert top["memory"] == "My dog needs a walk twice a day."
    assert top["score_breakdown"]["bm25"] == 0


def test_keyword_signal_lifts_a_rare_exact_term(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("We talked about the weather and gardening plans.", None, None),
        ("The router password hint is zxq-phoenix.", None, None),
        ("I enjoy planting tomatoes in spring.", None, None),
    )
    top = _search(server, user, "phoenix")[0]
    assert top["memory"] == "The router password hint is zxq-phoenix."
    assert top["score_breakdown"]["bm25"] > 0


def test_entity_signal_prefers_the_named_person(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("I went hiking in the mountains last weekend.", "Melanie", None),
        ("I went hiking in the mountains last weekend.", "Caroline", None),
    )
    results = _search(server, user, "Where did Caroline go hiking?")
    assert results[0]["actor_name"] == "Caroline"
    assert results[0]["score_breakdown"]["entity"] > results[1]["score_breakdown"]["entity"]


def test_time_signal_prefers_the_matching_month(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("I went to a concert with friends.", None, datetime(2024, 3, 14, tzinfo=UTC)),
        ("I went to a concert with friends!", None, datetime(2024, 7, 2, tzinfo=UTC)),
    )
    results = _search(server, user, "What did I do in March 2024?", reference_date="2024-08-01")
    assert results[0]["created_at"].startswith("2024-03-14")
    assert results[0]["score_breakdown"]["time"] == 1 and results[1]["score_breakdown"]["time"] == 0
    relative = _search(server, user, "What did I do last month?", reference_date="2024-08-15")
    assert relative[0]["created_at"].startswith("2024-07-02")


def test_threshold_applies_to_the_fused_score(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("I bake sourdough bread every Sunday.", None, None),
        ("Quantum chromodynamics is hard.", None, None),
    )
    everything = _search(server, user, "baking bread")
    assert len(everything) == 2
    strict = _search(server, user, "baking bread", threshold=everything[0]["score"] - 1e-6)
    assert [r["memory"] for r in strict] == [everything[0]["memory"]]
    assert all(0 <= r["score"] <= 1 for r in everything)


def test_a_message_said_next_to_a_match_is_lifted_towards_it(server: MnemoServer) -> None:
    """The turn before a match was not embedded with it: only its place in the conversation lifts it."""
    user = _user()
    fillers = [
        "The garden needs watering on Sunday.",
        "We are out of coffee beans again.",
        "The bus was late twice this week.",
        "The library closes early on Fridays.",
        "The dentist moved my appointment.",
    ]
    _store(
        server,
        user,
        ("My brother had an idea this morning.", None, None),
        ("The zxq-phoenix router password is taped under the desk.", None, None),
        *((text, None, None) for text in fillers),
        ("My sister had an idea this morning.", None, None),
    )
    results = _search(server, user, "zxq-phoenix router password", top_k=10)
    by_text = {r["memory"]: r for r in results}
    assert results[0]["memory"] == "The zxq-phoenix router password is taped under the desk."
    before, apart = by_text["My brother had an idea this morning."], by_text["My sister had an idea this morning."]
    assert before in results[1:5], "with the turns after the match (some embedded with it)"
    assert before["score"] > apart["score"] + 0.05, "far from the match, the same kind of sentence stays low"
    assert before["score_breakdown"]["semantic"] < apart["score_breakdown"]["semantic"] + 0.05, "not by meaning"


def test_a_match_keeps_its_place_above_the_neighbours_it_lifts(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("We adopted a cat from the shelter last spring.", None, None),
        ("Her name is Pixel and she sleeps all day.", None, None),
    )
    results = _search(server, user, "adopted a cat from the shelter")
    assert [r["memory"] for r in results] == [
        "We adopted a cat from the shelter last spring.",
        "Her name is Pixel and she sleeps all day.",
    ]
    assert results[0]["score"] > results[1]["score"]


def test_a_question_naming_one_speaker_prefers_what_that_speaker_said(server: MnemoServer) -> None:
    user = _user()
    _store(
        server,
        user,
        ("Oh Melanie, painting is my favourite hobby!", "Caroline", None),
        ("Pottery is my hobby these days.", "Melanie", None),
    )
    unnamed = _search(server, user, "Whose favourite hobby is painting?")
    assert unnamed[0]["memory"].startswith("Oh Melanie"), "with no speaker named, the closer match leads"
    named = _search(server, user, "What is Melanie's favourite hobby?")
    assert named[0]["memory"] == "Pottery is my hobby these days."


def test_a_memory_naming_its_own_speaker_keeps_its_score_when_another_is_asked_about(server: MnemoServer) -> None:
    """An extracted fact names whom it is about, whoever said it: only its words count."""
    user = _user()
    _store(
        server,
        user,
        ("Caroline thinks Melanie's favourite hobby is pottery.", "Caroline", None),
        ("My weekends are busy with a hobby or two.", "Melanie", None),
    )
    named = _search(server, user, "What is Melanie's favourite hobby?")
    assert named[0]["memory"] == "Caroline thinks Melanie's favourite hobby is pottery."


def test_a_second_memory_of_an_add_gives_way_to_another_adds_match(server: MnemoServer) -> None:
    user = _user()
    with server.client() as client:
        for messages in (
            [
                {"role": "user", "content": "We adopted a cat from the animal shelter."},
                {"role": "assistant", "content": "You adopted a cat from the shelter, how lovely!"},
            ],
            [{"role": "user", "content": "My sister adopted a shelter cat too."}],
        ):
            body = {"messages": messages, "user_id": user, "infer": False}
            assert client.post("/v3/memories/add/", json=body).status_code == 200
    results = _search(server, user, "adopted a cat from the shelter")
    assert [r["memory"] for r in results] == [
        "We adopted a cat from the animal shelter.",
        "My sister adopted a shelter cat too.",
        "You adopted a cat from the shelter, how lovely!",
    ]


def test_a_scopes_common_words_weigh_the_same_once_they_are_known(server: MnemoServer) -> None:
    """A speaker's name is in every message they said. After a search of the scope has found it common, the next
    ones do not read the memories holding only it, yet every result keeps the keyword score it had."""
    user = _user()
    with server.client() as client:
        for day in range(30):
            messages = [
                {"role": "user", "name": "Caroline", "content": f"Day {day}: I walked along the river again."},
                {"role": "assistant", "name": "Mel", "content": f"Day {day}: " + ("nice!" if day % 10 else "I read.")},
            ]
            body = {"messages": messages, "user_id": user, "infer": False}
            assert client.post("/v3/memories/add/", json=body).status_code == 200
    question = "Did Caroline read by the river?"
    first = _search(server, user, question, top_k=60)
    again = _search(server, user, question, top_k=60)
    assert len(first) == 60
    assert [(r["id"], r["score"], r["score_breakdown"]) for r in again] == [
        (r["id"], r["score"], r["score_breakdown"]) for r in first
    ]
    walks = [r for r in again if "walked" in r["memory"]]
    assert walks and all(r["score_breakdown"]["bm25"] > 0 for r in walks), "Caroline's name alone still counts"


def test_small_talk_gives_way_to_what_was_told(server: MnemoServer) -> None:
    """A question stored verbatim says nothing to keep: the statement that answers it comes first, though the
    question is the closer match by meaning and by words. Under ``deferred`` context (the default), once the
    question's final vector is in: its quick one is mostly its own, which a search in its very words matches too well.
    """
    user = _user()
    told = "Last summer I spent two weeks hiking in the Alps with my sister."
    asked = "Have you ever been hiking in the Alps?"
    _store(server, user, (told, None, None), (asked, None, None))
    wait_final_vectors(server)
    results = _search(server, user, "Have you ever been hiking in the Alps?")
    by_text = {r["memory"]: r for r in results}
    assert [r["memory"] for r in results] == [told, asked]
    assert by_text[asked]["score_breakdown"]["semantic"] > by_text[told]["score_breakdown"]["semantic"]
    assert by_text[asked]["score_breakdown"]["bm25"] >= by_text[told]["score_breakdown"]["bm25"]


def test_a_rewritten_message_is_no_longer_small_talk(server: MnemoServer) -> None:
    """Whoever edits a memory's text chose to keep it: it scores as what it says, not as the message it was."""
    user = _user()
    text = "Haha, that sounds like so much fun!"
    _store(server, user, (text, None, None))
    (before,) = _search(server, user, "so much fun")
    with server.client() as client:
        assert client.put(f"/v1/memories/{before['id']}/", json={"text": text}).status_code == 200
    (after,) = _search(server, user, "so much fun")
    assert after["score_breakdown"] == before["score_breakdown"]
    assert after["score"] > before["score"]
