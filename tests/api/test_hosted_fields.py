"""Hosted add fields mnemo honours offline: ``observation_date``/``observation_datetime``/``timezone`` and
``includes``/``excludes`` (with an LLM: ``test_hosted_fields_llm``)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from testkit.server import MnemoServer, wait_event
from tests.api.adding import add_and_wait, memories_of


def _user() -> str:
    return f"fields-{uuid.uuid4().hex[:8]}"


# --- offline ----------------------------------------------------------------------------------------


def test_observation_date_resolves_relative_dates_and_dates_the_memory(server: MnemoServer) -> None:
    user = _user()
    add_and_wait(server, user, "I went hiking yesterday.", observation_date="2024-05-03", timezone="Pacific/Auckland")
    (memory,) = memories_of(server, user)
    assert "2024-05-02" in memory["memory"], memory
    # noon in Auckland (UTC+12 in May) is midnight UTC: the day is the same in both
    assert memory["created_at"].startswith("2024-05-03T00:00:00"), memory


def test_timestamp_dates_the_memory_and_the_observation_date_the_words(server: MnemoServer) -> None:
    user = _user()
    stamp = 1_700_000_000  # 2023-11-14T22:13:20Z
    add_and_wait(server, user, "I started a pottery class yesterday.", observation_date="2024-01-10", timestamp=stamp)
    (memory,) = memories_of(server, user)
    assert "2024-01-09" in memory["memory"] and memory["created_at"].startswith("2023-11-14T22:13:20"), memory


def test_timezone_alone_makes_today_the_writer_s_day(server: MnemoServer) -> None:
    user = _user()
    # 2023-11-14T22:13:20Z is already the 15th in Tokyo: "yesterday" there is the 14th.
    add_and_wait(server, user, "I bought a kite yesterday.", timestamp=1_700_000_000, timezone="Asia/Tokyo")
    (memory,) = memories_of(server, user)
    assert "2023-11-14" in memory["memory"], memory


def test_an_unknown_timezone_or_a_bad_date_is_a_400(server: MnemoServer) -> None:
    with server.client() as client:
        for extra, named in (
            ({"timezone": "Mars/Olympus"}, "timezone"),
            ({"observation_date": "May 3rd"}, "observation_date"),
            ({"observation_datetime": "yesterday"}, "observation_datetime"),
        ):
            response = client.post("/v3/memories/add/", json={"messages": "Hi.", "user_id": _user(), **extra})
            assert response.status_code == 400 and named in response.json()["detail"], (extra, response.text)


def test_includes_and_excludes_filter_offline_facts(server: MnemoServer) -> None:
    said = "I love spicy ramen. I work as a nurse at the city hospital. I play the violin every evening."
    everything = _user()
    add_and_wait(server, everything, said)
    assert len(memories_of(server, everything)) == 3
    only_food = _user()
    add_and_wait(server, only_food, said, includes="food")
    assert [m["memory"] for m in memories_of(server, only_food)] == ["User loves spicy ramen."]
    no_work = _user()
    add_and_wait(server, no_work, said, excludes="hospital work")
    kept = sorted(m["memory"] for m in memories_of(server, no_work))
    assert len(kept) == 2 and not any("nurse" in memory for memory in kept), kept
    both = _user()
    add_and_wait(server, both, said, includes="ramen, violin", excludes="music")
    assert [m["memory"] for m in memories_of(server, both)] == ["User loves spicy ramen."]


def test_the_official_client_forwards_the_hosted_fields(
    server: MnemoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEM0_DIR", str(tmp_path))
    from mem0 import MemoryClient

    user = _user()
    client = MemoryClient(api_key=server.api_key, host=server.url)
    queued = client.add(
        "I adopted a puppy yesterday. I work at a bakery.",
        filters={"user_id": user},
        observation_date="2024-02-29",
        includes="puppies",
    )
    assert wait_event(server, queued["event_id"])["status"] == "SUCCEEDED"
    (memory,) = client.get_all(filters={"user_id": user})["results"]
    assert "puppy" in memory["memory"] and "2024-02-28" in memory["memory"], memory
