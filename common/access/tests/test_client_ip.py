"""The client's address: the TCP peer unless trusted proxies are configured, then the entry the
outermost of them wrote into X-Forwarded-For. The admin lockout (django-axes), our throttles and
DRF's own address rule all read it from TRUSTED_PROXY_COUNT."""

import pytest
from axes.helpers import get_client_ip_address
from django.test import RequestFactory, override_settings
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from common.access.client_ip import MalformedForwardedFor, client_ip, parse_address

PEER = "192.0.2.10"


def request(forwarded_for: str | None = None, *, peer: str = PEER):
    extra = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return RequestFactory().get("/", **extra)


@override_settings(TRUSTED_PROXY_COUNT=0)
@pytest.mark.parametrize("forwarded_for", [None, "203.0.113.7", "203.0.113.7, 198.51.100.1", "garbage", ""])
def test_without_trusted_proxies_the_header_is_ignored(forwarded_for):
    assert client_ip(request(forwarded_for)) == PEER


@override_settings(TRUSTED_PROXY_COUNT=0)
@pytest.mark.parametrize(
    ("peer", "expected"), [("::ffff:192.0.2.10", PEER), ("2001:db8::1", "2001:db8::1"), ("", None)]
)
def test_the_peer_address_is_normalized(peer, expected):
    assert client_ip(request(peer=peer)) == expected  # "" is a Unix socket: no address


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    ("forwarded_for", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("10.0.0.1, 203.0.113.7", "203.0.113.7"),  # what the client wrote is on the left
        ("forged,  203.0.113.7", "203.0.113.7"),
        ("203.0.113.7:51234", "203.0.113.7"),  # proxies that append the port
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:DB8:0::7", "2001:db8::7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("fe80::7%eth0", "fe80::7"),
        (None, PEER),  # straight to the app (a health probe): the peer
    ],
)
def test_behind_one_trusted_proxy_the_last_entry_is_the_client(forwarded_for, expected):
    assert client_ip(request(forwarded_for)) == expected


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_behind_two_trusted_proxies_the_second_entry_from_the_right_is_the_client():
    assert client_ip(request("10.0.0.1, 203.0.113.7, 10.1.1.1")) == "203.0.113.7"


@override_settings(TRUSTED_PROXY_COUNT=2)
def test_fewer_entries_than_trusted_proxies_is_malformed():
    with pytest.raises(MalformedForwardedFor):
        client_ip(request("203.0.113.7"))


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    "forwarded_for", ["", "203.0.113.7,", "unknown", "203.0.113.7 10.0.0.1", "[::", "1.2.3.4.5", "é"]
)
def test_a_malformed_header_behind_a_trusted_proxy_is_refused(forwarded_for):
    with pytest.raises(MalformedForwardedFor):
        client_ip(request(forwarded_for))


@pytest.mark.parametrize(
    "value", ["", " ", "localhost", "203.0.113.7:port", "203.0.113.7:", "[2001:db8::1", "[::1]x", "[::1]:", "1.2.3.999"]
)
def test_what_is_not_an_address_parses_to_none(value):
    assert parse_address(value) is None


@pytest.mark.parametrize(
    ("proxies", "forwarded_for"),
    [
        (0, None),
        (0, "203.0.113.7"),
        (1, None),
        (1, "203.0.113.7"),
        (1, "10.0.0.1, 203.0.113.7"),
        (2, "10.0.0.1, 203.0.113.7"),
        (2, "10.0.0.2, 10.0.0.1, 203.0.113.7"),
    ],
)
def test_django_axes_and_drf_read_the_same_address(settings, proxies, forwarded_for):
    """On well-formed headers (DRF's rule has no notion of a malformed one)."""
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}  # as settings.py derives it
    raw = request(forwarded_for)

    ours = client_ip(raw)

    assert get_client_ip_address(raw) == ours
    assert BaseThrottle().get_ident(Request(raw)) == ours
