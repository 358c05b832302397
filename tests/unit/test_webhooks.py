"""The webhook rules that need no server: which hosts a deployment allows, and the signature scheme."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

import pytest

from mnemo.domain.webhooks import HostAllowlist, parse_target, sign, verify


def test_the_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body() -> None:
    body = b'{"event_details":{"event":"ADD"}}'
    expected = hmac.new(b"whsec_k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("whsec_k", 1700000000, body) == f"sha256={expected}"
    assert verify("whsec_k", "1700000000", body, f"sha256={expected}")
    assert not verify("whsec_k", "1700000001", body, f"sha256={expected}")
    assert not verify("whsec_k", "1700000000", body + b" ", f"sha256={expected}")
    assert not verify("whsec_k", "soon", body, f"sha256={expected}")


@pytest.mark.parametrize(
    ("entries", "url", "allowed"),
    [
        ("", "https://hooks.example.com/x", False),
        ("hooks.example.com", "https://hooks.example.com/x", True),
        ("hooks.example.com", "https://HOOKS.example.com:8443/x", True),
        ("hooks.example.com", "https://evil.example.com/x", False),
        ("*.example.com", "https://a.b.example.com/x", True),
        ("*.example.com", "https://example.com.evil.net/x", False),
        ("*", "https://anything.example.org/x", True),
        ("*", "http://127.0.0.1/x", False),
        ("*", "http://8.8.8.8/x", True),
        ("127.0.0.1", "http://127.0.0.1:8080/x", True),
        ("127.0.0.1", "http://127.0.0.2/x", False),
        ("127.0.0.0/8", "http://127.0.0.2/x", True),
        ("::1", "http://[::1]:80/x", True),
        ("hooks.example.com", "http://10.0.0.1/x", False),
    ],
)
def test_which_hosts_webhooks_may_target(entries: str, url: str, allowed: bool) -> None:
    assert HostAllowlist.parse(entries).allows_host(parse_target(url)) is allowed


def test_a_name_may_lead_only_to_public_addresses_unless_an_address_entry_covers_it() -> None:
    by_name = HostAllowlist.parse("hooks.example.com")
    assert by_name.allows_address(ipaddress.ip_address("93.184.216.34"))
    for inside in ("127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fd00::1", "0.0.0.0"):
        assert not by_name.allows_address(ipaddress.ip_address(inside)), inside
    with_network = HostAllowlist.parse("hooks.internal, 10.0.0.0/8")
    assert with_network.allows_address(ipaddress.ip_address("10.1.2.3"))
    assert not HostAllowlist.parse("").allows_address(ipaddress.ip_address("93.184.216.34"))


@pytest.mark.parametrize("entry", ["http://x.com", "a b", "10.0.0.0/33", "exa_mple.com"])
def test_an_entry_of_no_accepted_form_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="is not a host name"):
        HostAllowlist.parse(entry)


@pytest.mark.parametrize(
    ("url", "says"),
    [("ftp://h/x", "http:// or https://"), ("http:///x", "names no host"), ("http://u:p@h/x", "user or password")],
)
def test_urls_that_cannot_be_webhooks(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_target(url)
