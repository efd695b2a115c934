"""The client's IP address, the one rule behind the admin lockout (django-axes) and the API's
throttles.

With TRUSTED_PROXY_COUNT = 0 (the default) it is the TCP peer (REMOTE_ADDR) and any
X-Forwarded-For header is ignored: a client could write anything there. With N > 0, N proxies
that each append the address they received the request from sit in front of the app: the
N-th entry from the right of X-Forwarded-For was written by the outermost of them, so it is
the client's real address whatever the client put on the left.
"""

import ipaddress

from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class MalformedForwardedFor(SuspiciousOperation):
    """X-Forwarded-For cannot hold what the trusted proxies write: Django answers 400."""


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as a normalized string, or None when the peer has no IP address
    (a Unix socket with no trusted proxy). Raises MalformedForwardedFor."""
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get(FORWARDED_FOR)
    if proxies == 0 or forwarded is None:
        address = parse_address(request.META.get("REMOTE_ADDR", ""))
        return str(address) if address else None
    return str(forwarded_client(forwarded, proxies=proxies))


def forwarded_client(header: str, *, proxies: int) -> IPAddress:
    """The entry written by the outermost of `proxies` trusted proxies."""
    entries = [entry.strip(" \t") for entry in header.split(",")]
    if len(entries) < proxies:
        raise MalformedForwardedFor(
            f"X-Forwarded-For has {len(entries)} address(es), fewer than the {proxies} trusted proxies add"
        )
    address = parse_address(entries[-proxies])
    if address is None:
        raise MalformedForwardedFor("X-Forwarded-For does not hold an IP address where the trusted proxy writes it")
    return address


def parse_address(value: str) -> IPAddress | None:
    """'203.0.113.7', '203.0.113.7:5678', '2001:db8::1', '[2001:db8::1]:443' -> the address
    (IPv4-mapped IPv6 as IPv4, so one client has one spelling); None if it is not one."""
    host = _without_port(value.strip())
    if host is None:
        return None
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped:
            return address.ipv4_mapped
        if address.scope_id:  # fe80::1%eth0: the zone names our interface, not the client
            return ipaddress.IPv6Address(host.partition("%")[0])
    return address


def _without_port(value: str) -> str | None:
    if value.startswith("["):  # [IPv6] or [IPv6]:port
        host, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not (rest.startswith(":") and _is_port(rest[1:]))):
            return None
        return host
    if value.count(":") == 1:  # IPv4:port
        host, _, port = value.partition(":")
        return host if _is_port(port) else None
    return value


def _is_port(value: str) -> bool:
    return value.isascii() and value.isdigit()
