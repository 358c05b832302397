"""Webhooks end to end: managed through the official client, refused for hosts the deployment does not allow,
delivered by the workers of ``mnemo serve`` to a receiver on loopback, signed, retried, once per change."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mnemo.domain.webhooks import verify
from testkit.server import MnemoServer, run_cli, serving
from tests.api.webhook_support import Receiver, add, create, project_id, settled

#: Fast retries, so a test waits tenths of seconds for a backoff, not minutes.
FAST_RETRIES = {
    "MNEMO_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "MNEMO_WEBHOOK_RETRY_BASE_SECONDS": "0.05",
    "MNEMO_WEBHOOK_MAX_ATTEMPTS": "3",
    "MNEMO_WEBHOOK_TIMEOUT_SECONDS": "5",
}


@pytest.fixture(scope="module")
def server(
    module_database_url: str, model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MnemoServer]:
    with serving(
        tmp_path_factory.mktemp("serve"), database_url=module_database_url, model_dir=model_dir, extra_env=FAST_RETRIES
    ) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver.running() as running:
        yield running


@pytest.fixture
def api(server: MnemoServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def test_the_official_client_creates_lists_updates_and_deletes_webhooks(
    server: MnemoServer, tmp_path: Path, receiver: Receiver
) -> None:
    from mem0 import MemoryClient
    from mem0.exceptions import MemoryNotFoundError

    os.environ["MEM0_DIR"] = str(tmp_path)
    client = MemoryClient(api_key=server.api_key, host=server.url)
    project = client.project_id
    created = client.create_webhook(
        url=receiver.url, name="logger", project_id=project, event_types=["memory_add", "memory_categorize"]
    )
    assert {k: created[k] for k in ("name", "url", "event_types", "is_active", "project")} == {
        "name": "logger",
        "url": receiver.url,
        "event_types": ["memory_add", "memory_categorize"],
        "is_active": True,
        "project": project,
    }
    assert created["secret"].startswith("whsec_") and created["owner"]
    webhook_id = created["webhook_id"]
    listed = client.get_webhooks(project_id=project)
    assert [hook["webhook_id"] for hook in listed] == [webhook_id]
    assert listed[0]["secret"] == created["secret"], "a key that may write reads the secret again"

    answer = client.update_webhook(webhook_id=webhook_id, name="renamed", event_types=["memory_delete"])
    assert answer == {"message": "Webhook updated successfully"}
    (shown,) = client.get_webhooks(project_id=project)
    assert (shown["name"], shown["url"], shown["event_types"]) == ("renamed", receiver.url, ["memory_delete"])

    with pytest.raises(MemoryNotFoundError):
        client.get_webhooks(project_id="proj_of_someone_else")
    assert client.delete_webhook(webhook_id=webhook_id) == {"message": "Webhook deleted successfully"}
    assert client.get_webhooks(project_id=project) == []
    with pytest.raises(MemoryNotFoundError):
        client.delete_webhook(webhook_id=webhook_id)


@pytest.mark.parametrize(
    ("url", "event_types", "says"),
    [
        ("http://10.0.0.1/hook", None, "MNEMO_WEBHOOK_ALLOWED_HOSTS"),
        ("http://hooks.example.com/hook", None, "MNEMO_WEBHOOK_ALLOWED_HOSTS"),
        ("http://[::1]:8080/hook", None, "MNEMO_WEBHOOK_ALLOWED_HOSTS"),
        ("ftp://127.0.0.1/hook", None, "http:// or https://"),
        ("http://user:pw@127.0.0.1/hook", None, "user or password"),
        ("http://127.0.0.1/hook", ["memory_add", "memory_moved"], "'memory_moved' is not an event type"),
        ("http://127.0.0.1/hook", [], "at least one event type"),
    ],
)
def test_webhooks_are_refused_for_hosts_the_deployment_does_not_allow_and_bad_input(
    api: httpx.Client, url: str, event_types: list[str] | None, says: str
) -> None:
    body: dict[str, Any] = {"url": url, "name": "refused"}
    if event_types is not None:
        body["event_types"] = event_types
    response = api.post(f"/api/v1/webhooks/projects/{project_id(api)}/", json=body)
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"]


def test_an_update_to_a_host_not_allowed_is_refused(api: httpx.Client, receiver: Receiver) -> None:
    hook = create(api, receiver.url)
    response = api.put(f"/api/v1/webhooks/{hook['webhook_id']}/", json={"url": "https://169.254.169.254/latest"})
    assert response.status_code == 400 and "MNEMO_WEBHOOK_ALLOWED_HOSTS" in response.json()["detail"]
    assert api.put(f"/api/v1/webhooks/{hook['webhook_id']}/", json={}).status_code == 400
    (shown,) = [h for h in api.get(f"/api/v1/webhooks/projects/{project_id(api)}/").json() if h["url"] == receiver.url]
    assert shown["webhook_id"] == hook["webhook_id"]
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_each_change_is_delivered_once_signed_and_a_deleted_memory_leaves_no_text(
    api: httpx.Client, receiver: Receiver
) -> None:
    hook = create(api, receiver.url)
    user = f"hooked-{uuid.uuid4().hex[:8]}"
    memory_id = add(api, user, "I keep bees in my garden.")
    assert api.put(f"/v1/memories/{memory_id}/", json={"text": "I keep bees on my roof."}).status_code == 200
    assert api.delete(f"/v1/memories/{memory_id}/").status_code == 200

    log = settled(api, hook["webhook_id"], 3)
    requests = receiver.wait_for(3)
    assert [d["status"] for d in log] == ["DELIVERED"] * 3
    assert [(d["attempts"], d["response_status"]) for d in log] == [(1, 200)] * 3
    assert len(requests) == 3, "one request per change"
    bodies = [request.json for request in requests]
    assert sorted(b["delivery_id"] for b in bodies) == sorted(d["id"] for d in log)
    by_event = {b["event_details"]["event"]: b for b in bodies}
    assert by_event["ADD"]["event_details"]["data"] == {"memory": "I keep bees in my garden."}
    assert by_event["UPDATE"]["event_details"]["data"] == {"memory": "I keep bees on my roof."}
    assert by_event["DELETE"]["event_details"]["data"] == {"memory": None}
    for body in bodies:
        assert body["event_details"]["id"] == memory_id and body["event_details"]["user_id"] == user
        assert body["webhook_id"] == hook["webhook_id"]
    for request in requests:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["x-mnemo-delivery"] == request.json["delivery_id"]
        assert headers["x-mnemo-event"] == request.json["event_type"]
        assert verify(hook["secret"], headers["x-mnemo-timestamp"], request.body, headers["x-mnemo-signature"])
        assert not verify("whsec_wrong", headers["x-mnemo-timestamp"], request.body, headers["x-mnemo-signature"])
    assert [d["payload"]["data"]["memory"] for d in log] == [None, None, None], "the log forgot the deleted text"
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_a_failing_receiver_gets_the_delivery_again_until_it_answers_2xx(api: httpx.Client, receiver: Receiver) -> None:
    receiver.script[:] = [500, 503]
    hook = create(api, receiver.url, ["memory_add"])
    add(api, f"retried-{uuid.uuid4().hex[:8]}", "I practise the violin.")

    (delivery,) = settled(api, hook["webhook_id"], 1)
    requests = receiver.wait_for(3)
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("DELIVERED", 3, 200)
    assert delivery["last_error"] is None
    assert {request.json["delivery_id"] for request in requests} == {delivery["id"]}
    assert len({request.body for request in requests}) == 1, "every attempt sends the same body"
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_a_receiver_that_keeps_failing_ends_the_delivery_failed_after_the_attempts(
    api: httpx.Client, receiver: Receiver
) -> None:
    receiver.script[:] = [500] * 10
    hook = create(api, receiver.url, ["memory_add"])
    add(api, f"failed-{uuid.uuid4().hex[:8]}", "I collect stamps.")

    (delivery,) = settled(api, hook["webhook_id"], 1)
    assert (delivery["status"], delivery["attempts"], delivery["response_status"]) == ("FAILED", 3, 500)
    assert delivery["last_error"] == "the receiver answered HTTP 500"
    assert len(receiver.received) == 3
    metrics = api.get("/metrics").text
    counted = {
        line.split()[0]: float(line.split()[1]) for line in metrics.splitlines() if line.startswith("mnemo_webhook")
    }
    assert counted['mnemo_webhook_deliveries_total{outcome="failed"}'] >= 1
    assert counted['mnemo_webhook_deliveries_total{outcome="retried"}'] >= 2
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_paused_webhooks_and_unsubscribed_events_get_nothing(api: httpx.Client, receiver: Receiver) -> None:
    deletes_only = create(api, receiver.url, ["memory_delete"])
    paused = create(api, receiver.url)
    assert api.put(f"/api/v1/webhooks/{paused['webhook_id']}/", json={"is_active": False}).status_code == 200
    memory_id = add(api, f"quiet-{uuid.uuid4().hex[:8]}", "I read at night.")
    api.delete(f"/v1/memories/{memory_id}/")

    (delivery,) = settled(api, deletes_only["webhook_id"], 1)
    assert delivery["event_type"] == "memory_delete"
    assert api.get(f"/api/v1/webhooks/{paused['webhook_id']}/deliveries/").json()["count"] == 0
    assert [r.json["event_details"]["event"] for r in receiver.wait_for(1)] == ["DELETE"]
    for hook in (deletes_only, paused):
        api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_the_delivery_log_is_paged_and_only_the_projects_own(api: httpx.Client, receiver: Receiver) -> None:
    hook = create(api, receiver.url, ["memory_add"])
    user = f"paged-{uuid.uuid4().hex[:8]}"
    for text in ("I swim.", "I run.", "I cycle."):
        add(api, user, text)
    settled(api, hook["webhook_id"], 3)
    page = api.get(f"/api/v1/webhooks/{hook['webhook_id']}/deliveries/", params={"page_size": 2}).json()
    assert page["count"] == 3 and len(page["results"]) == 2 and page["next"] is not None
    assert api.get(f"/api/v1/webhooks/{uuid.uuid4()}/deliveries/").status_code == 404
    assert api.get("/api/v1/webhooks/not-an-id/deliveries/").status_code == 404
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")


def test_a_read_only_key_lists_webhooks_without_their_secret_and_may_not_change_them(
    api: httpx.Client, server: MnemoServer, module_database_url: str, receiver: Receiver
) -> None:
    hook = create(api, receiver.url)
    env = {**server.env, "MNEMO_DATABASE_URL": module_database_url}
    made = run_cli(["keys", "create", "--read-only", "--name", "reader"], env=env)
    assert made.returncode == 0, made.stderr
    reader_key = made.stdout.strip().splitlines()[-1]
    with server.client(reader_key) as reader:
        (shown,) = [
            h for h in reader.get(f"/api/v1/webhooks/projects/{project_id(api)}/").json() if h["url"] == receiver.url
        ]
        assert shown["webhook_id"] == hook["webhook_id"] and shown["secret"] is None
        assert reader.get(f"/api/v1/webhooks/{hook['webhook_id']}/deliveries/").status_code == 200
        assert reader.put(f"/api/v1/webhooks/{hook['webhook_id']}/", json={"name": "x"}).status_code == 403
        assert reader.delete(f"/api/v1/webhooks/{hook['webhook_id']}/").status_code == 403
    api.delete(f"/api/v1/webhooks/{hook['webhook_id']}/")
