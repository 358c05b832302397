"""Webhook delivery, inside every worker: claim due deliveries, POST each one signed, record what happened.

An attempt resolves the webhook's host, checks every address against the deployment's allowlist
(:class:`~mnemo.domain.webhooks.HostAllowlist`: the host was allowed when the webhook was saved, but the
setting or the DNS may have changed since), connects to the address it checked (TLS still verifies the
host's name), and POSTs the body signed with the webhook's secret. The whole attempt is bounded by
``timeout``. A 2xx answer delivers it; any other answer (redirects are not followed), a timeout or a
connection error is retried with exponential backoff (:class:`~mnemo.worker.retry.RetryPolicy`) until the
attempts are spent, then the delivery is FAILED. A host the allowlist refuses ends it FAILED at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from mnemo import __version__
from mnemo.domain.webhooks import (
    DELIVERY_HEADER,
    EVENT_HEADER,
    SETTING,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    HostAllowlist,
    Target,
    delivery_body,
    parse_target,
    sign,
)
from mnemo.errors import MnemoError
from mnemo.observability import WorkContext, bound, metrics
from mnemo.storage.deliveries import Delivery, DeliveryQueue
from mnemo.worker.retry import RetryPolicy
from mnemo.worker.wakeup import InFlight, relay, sleep_until

logger = logging.getLogger(__name__)

#: Deliveries one worker has in flight at once.
CONCURRENCY = 8
#: The longest wait between attempts.
MAX_BACKOFF_SECONDS = 3600.0


class Refused(Exception):
    """The allowlist does not let this delivery reach its host: no retry changes that."""


class Deliverer:
    def __init__(
        self,
        queue: DeliveryQueue,
        *,
        hosts: HostAllowlist,
        timeout: float,
        retry_base_seconds: float,
        poll_seconds: float,
        is_alive: Callable[[str], bool],
    ) -> None:
        self.queue = queue
        self.hosts = hosts
        self.timeout = timeout
        self.retry = RetryPolicy(base_seconds=retry_base_seconds, cap_seconds=MAX_BACKOFF_SECONDS)
        self.poll_seconds = poll_seconds
        self.is_alive = is_alive
        self._wakeup = asyncio.Event()
        self._running = InFlight[Delivery](self._wakeup)
        self.delivered = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish (or hand back) what is in flight."""
        try:
            released = await self.queue.release_orphans(self.is_alive)
        except MnemoError as exc:
            logger.warning("could not release the deliveries of dead workers: %s", exc.detail)
        else:
            if released:
                logger.info("took back %d webhook deliveries of worker processes that died on this host", released)
        # No kept-alive connections: requests go to pinned addresses, and a connection made for one name must
        # never carry a request for another name on the same address.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits) as client:
            listener = asyncio.create_task(
                relay(self.queue.notifications, self._wakeup, stop, self.poll_seconds), name="mnemo-webhooks-listen"
            )
            try:
                while not stop.is_set():
                    self._fill(client, await self._claim())
                    await self._wait(stop)
            finally:
                listener.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await listener
                await self._drain()

    async def _claim(self) -> list[Delivery]:
        free = CONCURRENCY - len(self._running)
        if free <= 0:
            return []
        try:
            return await self.queue.claim(free)
        except MnemoError as exc:
            logger.warning("claiming webhook deliveries failed; will retry: %s", exc.detail)
            return []

    def _fill(self, client: httpx.AsyncClient, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            self._running.start(self._deliver(client, delivery), delivery, name=f"mnemo-delivery-{delivery.id}")

    async def _wait(self, stop: asyncio.Event) -> None:
        """Until a delivery is due, one finishes, a change is committed (NOTIFY) or ``stop``: at most a poll."""
        self._wakeup.clear()
        timeout = self.poll_seconds
        if len(self._running) < CONCURRENCY:
            with contextlib.suppress(MnemoError):
                due = await self.queue.seconds_until_due()
                if due is not None:
                    timeout = min(timeout, due)
        await sleep_until(stop, self._wakeup, timeout)

    async def _drain(self) -> None:
        """Let deliveries in flight finish (each is bounded by the timeout); hand back any that do not."""
        unfinished = await self._running.cancel_after(self.timeout + 1)
        if unfinished:
            with contextlib.suppress(MnemoError):
                await self.queue.release(unfinished)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        with bound(WorkContext(project=delivery.project_id, event_id=str(delivery.id))):
            status: int | None = None
            try:
                status = await asyncio.wait_for(self._post(client, delivery), self.timeout)
            except Refused as exc:
                await self._record(delivery, str(exc), None, final=True)
                return
            except TimeoutError:
                error = f"no answer within {self.timeout:g} s (MNEMO_WEBHOOK_TIMEOUT_SECONDS)"
            except (httpx.HTTPError, OSError) as exc:
                error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                if 200 <= status < 300:
                    await self._record(delivery, None, status, final=True)
                    return
                error = f"the receiver answered HTTP {status}"
            await self._record(delivery, error, status, final=delivery.attempts >= self.queue.max_attempts)

    async def _record(self, delivery: Delivery, error: str | None, status: int | None, *, final: bool) -> None:
        try:
            if error is None and status is not None:
                await self.queue.delivered(delivery, status)
                metrics.webhook_delivery("delivered")
                self.delivered += 1
            elif final:
                logger.warning("webhook delivery %s failed for good: %s", delivery.id, error)
                await self.queue.fail(delivery, error or "", status)
                metrics.webhook_delivery("failed")
            else:
                run_in: timedelta = self.retry.delay(delivery.attempts)
                logger.info(
                    "webhook delivery %s attempt %d failed, will retry: %s", delivery.id, delivery.attempts, error
                )
                await self.queue.retry(delivery, error or "", status, run_in=run_in)
                metrics.webhook_delivery("retried")
        except MnemoError:
            logger.exception("could not record webhook delivery %s; its lease will expire", delivery.id)

    async def _post(self, client: httpx.AsyncClient, delivery: Delivery) -> int:
        """POST the delivery to an address of its host the allowlist accepts; the answer's status."""
        target = parse_target(delivery.url)
        if not self.hosts.allows_host(target):
            raise Refused(self.hosts.refusal(target))
        address = await self._address(target)
        url = httpx.URL(delivery.url)
        body = delivery_body(
            delivery.payload,
            delivery_id=delivery.id,
            webhook_id=delivery.webhook_id,
            project_id=delivery.project_id,
            event_type=delivery.event_type,
            created_at=delivery.created_at,
        )
        timestamp = int(time.time())
        headers = {
            "Host": url.netloc.decode("ascii"),
            "Content-Type": "application/json",
            "User-Agent": f"mnemo-webhooks/{__version__}",
            DELIVERY_HEADER: str(delivery.id),
            EVENT_HEADER: delivery.event_type,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(delivery.secret, timestamp, body),
        }
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = client.build_request(
            "POST", url.copy_with(host=address), content=body, headers=headers, extensions=extensions
        )
        response = await client.send(request, stream=True)
        await response.aclose()
        return response.status_code

    async def _address(self, target: Target) -> str:
        """The address to connect to: the host's own when it is one, else the first it resolves to, once every
        address it resolves to is allowed."""
        if target.address is not None:
            return str(target.address)
        loop = asyncio.get_running_loop()
        found = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]).partition("%")[0] for info in found))
        for address in addresses:
            if not self.hosts.allows_address(ipaddress.ip_address(address)):
                raise Refused(
                    f"{target.host!r} resolves to {address}, an address {SETTING} does not allow (list it, or its"
                    " network, to deliver there)."
                )
        if not addresses:
            raise OSError(f"{target.host!r} resolves to no address")
        return addresses[0]
