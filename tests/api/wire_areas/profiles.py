"""Profiles (spec §1.4): settings, jobs, one user's profile."""

from __future__ import annotations

import uuid
from typing import Any

from mnemo.http.wire import profiles
from tests.api.wire_areas import Checked


def check(api: Checked, ping: dict[str, Any]) -> None:
    user = f"wire-prof-{uuid.uuid4().hex[:6]}"
    add = {"messages": "Alex works at Acme. Alex loves hiking.", "user_id": user, "infer": False}
    assert api.client.post("/v3/memories/add/", json=add).status_code == 200

    settings = "/v2/profiles/settings/"
    api.call(profiles.ProfileSettings, "GET", settings)
    shown = api.call(profiles.ProfileSettings, "POST", settings, json={"enabled": True})
    assert shown["enabled"] is True
    profile = "/v2/entities/user/{entity_id}/profile/"
    pending = api.call(profiles.Profile, "GET", profile, profile.format(entity_id=user))
    assert pending["status"] == "pending"

    job = {"operation": "trigger", "entity_type": "user", "entity_id": user}
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    created = api.call(profiles.ProfileJobCreated, "POST", "/v2/profiles/jobs/", json=job, headers=headers)
    assert created["status"] == "succeeded" and created["entity_ids"] == [user]
    read = api.call(profiles.ProfileJobStatus, "GET", "/v2/profiles/jobs/{job_id}/", created["status_url"])
    assert read["job"]["succeeded"] == 1
    done = api.call(profiles.Profile, "GET", profile, profile.format(entity_id=user))
    assert done["status"] == "succeeded" and done["profile"]
