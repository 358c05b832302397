"""The routes older clients call (spec §1.5): v1 add, get-all and search in both output formats, v2 search and
get-all."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.http import wire
from mnemo.http.wire import legacy
from tests.api.wire_areas import Checked, validate


def check(api: Checked, ping: dict[str, Any]) -> None:
    user = f"wire-legacy-{uuid.uuid4().hex[:6]}"
    add = "/v1/memories/"
    said = [{"role": "user", "content": "I grow tomatoes on my balcony."}]
    stored = api.call(legacy.V1AddResponse, "POST", add, json={"messages": said, "user_id": user, "infer": False})
    assert isinstance(stored, list) and stored[0]["memory"] == "I grow tomatoes on my balcony."
    validate(
        list[wire.AddedMemory],
        api.client.post(add, json={"messages": "I knit.", "user_id": user, "infer": False}).content,
    )
    queued = api.call(
        legacy.V1AddResponse, "POST", add, json={"messages": "I play chess.", "user_id": user, "output_format": "v1.1"}
    )
    assert queued["results"][0]["status"] == "PENDING"

    listed = api.call(legacy.V1MemoryList, "GET", add, params={"user_id": user})
    assert isinstance(listed, list) and {m["memory"] for m in listed} >= {"I grow tomatoes on my balcony.", "I knit."}
    validate(list[wire.Memory], api.client.get(add, params={"user_id": user}).content)
    wrapped = api.call(legacy.V1MemoryList, "GET", add, params={"user_id": user, "output_format": "v1.1"})
    assert set(wrapped) == {"results"}

    query = {"query": "What do I grow?", "user_id": user}
    found = api.call(legacy.V1SearchResponse, "POST", "/v1/memories/search/", json=query)
    assert isinstance(found, list) and found[0]["memory"] == "I grow tomatoes on my balcony."
    validate(list[wire.SearchHit], api.client.post("/v1/memories/search/", json=query).content)

    v2 = {"query": "What do I grow?", "filters": {"user_id": user}}
    hits = api.call(wire.SearchResponse, "POST", "/v2/memories/search/", json=v2)
    assert all(hit["score"] >= 0.3 for hit in hits["results"])
    page = api.call(legacy.V2MemoryList, "POST", "/v2/memories/", json={"filters": {"user_id": user}, "page_size": 1})
    assert len(page["results"]) == 1
