"""Webhook deliveries by separate ``mnemo worker`` processes: a delivery whose worker is killed mid-request is
sent again, under the same delivery id, by the next worker; a worker refuses hosts its allowlist does not
(or no longer) allow, by name or by the address a name resolves to."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit.server import MnemoServer, start_server, start_worker
from tests.api.webhook_support import Receiver, add, create, settled

RETRIES = {"MNEMO_WEBHOOK_RETRY_BASE_SECONDS": "0.05", "MNEMO_WEBHOOK_MAX_ATTEMPTS": "3"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver.running() as running:
        yield running


@pytest.fixture
def api_only(database_url: str, model_dir: Path, tmp_path: Path) -> Iterator[MnemoServer]:
    """``mnemo serve --no-workers``: the API enqueues, only the test's workers deliver."""
    running = start_server(
        tmp_path / "serve",
        database_url=database_url,
        model_dir=model_dir,
        extra_args=["--no-workers"],
        extra_env={"MNEMO_WEBHOOK_ALLOWED_HOSTS": "127.0.0.1,localhost", **RETRIES},
    )
    try:
        yield running
    finally:
        running.stop()


def _worker(database_url: str, model_dir: Path, log: Path, allowed: str) -> subprocess.Popen[bytes]:
    # A long timeout, so the delivery's lease (timeout + 30 s) outlasts the test: only the dead worker's
    # process being gone can hand it back.
    env = {"MNEMO_WEBHOOK_ALLOWED_HOSTS": allowed, "MNEMO_WEBHOOK_TIMEOUT_SECONDS": "120", **RETRIES}
    return start_worker(database_url, log, model_dir=model_dir, extra_env=env)


def test_a_delivery_whose_worker_is_killed_mid_request_arrives_again_with_the_same_id(
    api_only: MnemoServer, database_url: str, model_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    receiver.holding.set()
    first = _worker(database_url, model_dir, tmp_path / "w1.log", "127.0.0.1")
    try:
        with api_only.client() as api:
            hook = create(api, receiver.url, ["memory_add"])
            add(api, f"killed-{uuid.uuid4().hex[:8]}", "I brew my own beer.")
            (held,) = receiver.wait_for(1)
            first.send_signal(signal.SIGKILL)
            first.wait(30)
            receiver.holding.clear()

            second = _worker(database_url, model_dir, tmp_path / "w2.log", "127.0.0.1")
            try:
                (delivery,) = settled(api, hook["webhook_id"], 1)
                requests = receiver.wait_for(2)
            finally:
                second.send_signal(signal.SIGTERM)
                assert second.wait(60) == 0
    finally:
        if first.poll() is None:
            first.kill()
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 2)
    assert len(requests) == 2, "sent once by the killed worker, once by the next"
    assert {r.json["delivery_id"] for r in requests} == {delivery["id"]}
    assert {r.headers["X-Mnemo-Delivery"] for r in requests} == {delivery["id"]}
    assert requests[1].body == held.body


def test_a_worker_refuses_hosts_its_allowlist_does_not_allow_when_it_delivers(
    api_only: MnemoServer, database_url: str, model_dir: Path, tmp_path: Path, receiver: Receiver
) -> None:
    port = receiver.url.split(":")[2].split("/")[0]
    with api_only.client() as api:
        by_address = create(api, receiver.url, ["memory_add"])
        by_name = create(api, f"http://localhost:{port}/hook", ["memory_add"])
        add(api, f"refused-{uuid.uuid4().hex[:8]}", "I grow tomatoes.")
        # This worker allows the name localhost but no loopback address: the allowlist changed since the
        # webhooks were saved, and the name resolves to an address it does not allow.
        worker = _worker(database_url, model_dir, tmp_path / "w.log", "localhost")
        try:
            (to_address,) = settled(api, by_address["webhook_id"], 1)
            (to_name,) = settled(api, by_name["webhook_id"], 1)
        finally:
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(60) == 0
    assert (to_address["status"], to_address["attempts"], to_address["response_status"]) == ("FAILED", 1, None)
    assert "'127.0.0.1' is not allowed" in to_address["last_error"]
    assert "MNEMO_WEBHOOK_ALLOWED_HOSTS" in to_address["last_error"]
    assert (to_name["status"], to_name["attempts"]) == ("FAILED", 1)
    assert "'localhost' resolves to" in to_name["last_error"]
    assert receiver.received == []
