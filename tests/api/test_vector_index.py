"""MNEMO_VECTOR_INDEX_MIN_MEMORIES: a scope at least that large is searched through the HNSW index, a smaller one
exactly; both rank the same memories first, and another user's memories never come in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg

from testkit.server import serving

FACTS = [
    "I adopted a puppy called Biscuit last week.",
    "I work as a nurse at the city hospital.",
    "My sister lives in Lisbon.",
    "I play the violin on Sundays.",
    "My favourite food is ramen.",
]


def test_large_scopes_are_searched_through_the_index(database_url: str, model_dir: Path, tmp_path: Path) -> None:
    with (
        serving(
            tmp_path / "indexed",
            database_url=database_url,
            model_dir=model_dir,
            extra_env={
                "MNEMO_VECTOR_INDEX_MIN_MEMORIES": "5",
                "MNEMO_VECTOR_INDEX_LINKS": "8",
                "MNEMO_VECTOR_INDEX_CONSTRUCTION": "40",
                "MNEMO_VECTOR_INDEX_EF_SEARCH": "10",
            },
        ) as server,
        server.client() as client,
    ):
        for user, facts in (("large", FACTS), ("small", FACTS[:3]), ("other", [f"Other {f}" for f in FACTS])):
            messages = [{"role": "user", "content": fact} for fact in facts]
            response = client.post("/v3/memories/add/", json={"messages": messages, "user_id": user, "infer": False})
            assert response.status_code == 200, response.text

        def search(user: str) -> list[dict[str, Any]]:
            body = {"query": "What is my dog called?", "filters": {"user_id": user}, "threshold": 0, "top_k": 10}
            response = client.post("/v3/memories/search/", json=body)
            assert response.status_code == 200, response.text
            results: list[dict[str, Any]] = response.json()["results"]
            return results

        large, small = search("large"), search("small")
        assert sorted(r["memory"] for r in large) == sorted(FACTS), "all five (approximate), no other user's"
        assert sorted(r["memory"] for r in small) == sorted(FACTS[:3]), "all three (exact)"
        assert large[0]["memory"] == small[0]["memory"] == FACTS[0]
        assert "HNSW index built" in server.log()
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT reloptions FROM pg_class WHERE relname = 'memories_embedding_hnsw'").fetchone()
    assert row is not None and sorted(row[0]) == ["ef_construction=40", "m=8"], "built as configured"
