"""Webhooks as plain values: their event types, which hosts they may target, what a delivery says and how its
body is signed.

**Hosts.** A deployment lists the hosts webhooks may target (``MNEMO_WEBHOOK_ALLOWED_HOSTS``, parsed by
:meth:`HostAllowlist.parse`): names (``hooks.example.com``), subdomains (``*.example.com``), addresses and
networks (``127.0.0.1``, ``10.0.0.0/8``, ``::1``), or ``*`` for any host with a public address. A name is
checked again when a delivery is sent, on every address it resolves to then: a public address is accepted for
an allowed name, a loopback, private, link-local or otherwise non-public one only when an address entry covers
it, so a name that comes to point inside the network is refused rather than followed.

**Signature.** A delivery's body is signed with the webhook's secret: ``X-Mnemo-Signature: sha256=<hex>``
is the HMAC-SHA256, keyed with the secret's UTF-8 bytes, of ``<X-Mnemo-Timestamp>.<body>`` (the timestamp
header's value, a dot, then the raw body bytes) (:func:`sign`, :func:`verify`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit

from mnemo.domain.memories import MemoryRecord, Scope

#: The memory events mnemo delivers.
MEMORY_EVENT_TYPES = ("memory_add", "memory_update", "memory_delete", "memory_categorize")
#: Every event type the Platform's webhooks accept. mnemo has no ingest jobs: a webhook may subscribe to them
#: (clients send them) but never receives one.
EVENT_TYPES = (
    *MEMORY_EVENT_TYPES,
    "ingest_job_completed",
    "ingest_job_partially_completed",
    "ingest_job_failed",
    "ingest_job_cancelled",
)
SIGNATURE_HEADER = "X-Mnemo-Signature"
TIMESTAMP_HEADER = "X-Mnemo-Timestamp"
DELIVERY_HEADER = "X-Mnemo-Delivery"
EVENT_HEADER = "X-Mnemo-Event"
SETTING = "MNEMO_WEBHOOK_ALLOWED_HOSTS"
MAX_URL_CHARS = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def new_secret() -> str:
    """A fresh signing secret (``whsec_`` and 43 random URL-safe characters)."""
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Mnemo-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (in constant time): ``signature`` is :func:`sign` of ``body`` at ``timestamp``."""
    if not timestamp.isdigit():
        return False
    return hmac.compare_digest(sign(secret, int(timestamp), body), signature)


# --- targets --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """Where a webhook URL points: its scheme, host (lower case, IPv6 without brackets) and port."""

    scheme: Literal["http", "https"]
    host: str
    port: int

    @property
    def address(self) -> IPAddress | None:
        """The host as an IP address, when it is one."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None


def parse_target(url: str) -> Target:
    """The target of ``url``; ValueError saying what is wrong with it (not http/https, no host, credentials)."""
    if len(url) > MAX_URL_CHARS:
        raise ValueError(f"url has {len(url)} characters; at most {MAX_URL_CHARS} are allowed.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"url is not a valid URL ({exc}): {url[:100]!r}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"url must start with http:// or https://; got {url[:100]!r}.")
    if not parts.hostname:
        raise ValueError(f"url names no host: {url[:100]!r}.")
    if parts.username is not None or parts.password is not None:
        raise ValueError(
            "url must not carry a user or password: receivers authenticate deliveries by their"
            f" {SIGNATURE_HEADER} header (signed with the webhook's secret)."
        )
    return Target("https" if scheme == "https" else "http", parts.hostname.lower(), port or _DEFAULT_PORTS[scheme])


_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class HostAllowlist:
    """The hosts webhooks may target (see the module's docstring). Empty: none."""

    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()
    networks: tuple[IPNetwork, ...] = ()
    any_public: bool = False

    @classmethod
    def parse(cls, text: str) -> HostAllowlist:
        """From a comma-separated list; ValueError naming an entry that is none of the accepted forms."""
        names: set[str] = set()
        suffixes: list[str] = []
        networks: list[IPNetwork] = []
        any_public = False
        for raw in text.split(","):
            entry = raw.strip().lower().strip("[]")
            if not entry:
                continue
            if entry == "*":
                any_public = True
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            elif _is_network(entry):
                networks.append(ipaddress.ip_network(entry, strict=False))
            elif _is_name(entry):
                names.add(entry)
            else:
                raise ValueError(f"{entry!r} is not a host name, *.domain, IP address, network (10.0.0.0/8) or *")
        return cls(frozenset(names), tuple(suffixes), tuple(networks), any_public)

    def allows_host(self, target: Target) -> bool:
        """Whether webhooks may point at ``target``'s host (by name, or as an address)."""
        address = target.address
        if address is not None:
            return self.allows_address(address)
        host = target.host
        return self.any_public or host in self.names or any(host.endswith(s) for s in self.suffixes)

    def allows_address(self, address: IPAddress) -> bool:
        """Whether a delivery may connect to ``address``: one an address entry covers, or a public one when
        some name entry (or ``*``) could have led there."""
        if any(address in network for network in self.networks):
            return True
        return address.is_global and (self.any_public or bool(self.names) or bool(self.suffixes))

    def refusal(self, target: Target) -> str:
        """Why ``target`` is refused, and which setting to change."""
        if not (self.names or self.suffixes or self.networks or self.any_public):
            return (
                f"Webhooks are disabled on this deployment: no host is allowed. Set {SETTING} (comma-separated"
                f" host names, *.domain, IP addresses or networks) to allow {target.host!r}."
            )
        return (
            f"Host {target.host!r} is not allowed for webhooks on this deployment; add it to {SETTING}"
            " (loopback and private addresses must be listed explicitly)."
        )


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


def _is_name(entry: str) -> bool:
    labels = entry.rstrip(".").split(".")
    return all(0 < len(label) <= 63 and label.replace("-", "").isalnum() and label.isascii() for label in labels)


# --- payloads ---------------------------------------------------------------------------------------------------

#: One delivery to make: its event type and the ``event_details`` it carries.
Notice = tuple[str, dict[str, Any]]


def _scope(scope: Scope) -> dict[str, str | None]:
    return {"user_id": scope.user_id, "agent_id": scope.agent_id, "app_id": scope.app_id, "run_id": scope.run_id}


@dataclass(frozen=True, slots=True)
class Announced:
    """A memory about to be inserted, as a change notice tells it (a :class:`MemoryRecord` tells the same)."""

    id: uuid.UUID
    memory: str
    scope: Scope
    state: str
    replaced_by: uuid.UUID | None
    categories: Sequence[str]


def change_notices(record: MemoryRecord | Announced, event: Literal["ADD", "UPDATE"]) -> list[Notice]:
    """What a memory written (ADD) or changed (UPDATE) tells webhooks; an added memory with categories is also
    categorized (CATEGORIZE)."""
    details = {
        "id": str(record.id),
        "data": {"memory": record.memory},
        "event": event,
        **_scope(record.scope),
        "state": record.state,
        "replaced_by": str(record.replaced_by) if record.replaced_by else None,
    }
    notices: list[Notice] = [("memory_add" if event == "ADD" else "memory_update", details)]
    if event == "ADD" and record.categories:
        categorized = {
            "event": "CATEGORIZE",
            "memory_id": str(record.id),
            "categories": list(record.categories),
            **_scope(record.scope),
        }
        notices.append(("memory_categorize", categorized))
    return notices


def deletion_notice(memory_id: uuid.UUID, scope: Scope) -> Notice:
    """What a deleted memory tells webhooks: that it existed, never what it said."""
    return "memory_delete", {"id": str(memory_id), "data": {"memory": None}, "event": "DELETE", **_scope(scope)}


def delivery_body(
    details: dict[str, Any],
    *,
    delivery_id: uuid.UUID,
    webhook_id: uuid.UUID,
    project_id: str,
    event_type: str,
    created_at: datetime,
) -> bytes:
    """The JSON a delivery POSTs: Mem0's ``event_details`` and mnemo's delivery fields (the same on every attempt)."""
    body = {
        "event_details": details,
        "delivery_id": str(delivery_id),
        "webhook_id": str(webhook_id),
        "project_id": project_id,
        "event_type": event_type,
        "created_at": created_at.isoformat(),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
