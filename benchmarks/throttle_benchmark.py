"""What the API's rate limits cost per request, on the shared Redis cache.

The same requests to GET /api/v1/transactions go through Django's whole stack in this process
(middleware, knox, the view, the history query), alternately with the throttles on (the
configured rates) and off (no rate: the throttle classes return before touching the cache), in
interleaved blocks so that drift and noise hit both alike. The difference is what throttling
adds. Two kinds of request:
- a valid token (200): the per-address check before authentication (one cache read) and the
  per-user throttle after it (a read and a write of the user's history, up to `--rounds` entries);
- a made-up token (401): the per-address check and the failure's count (two reads, one write).
Every user and address stays under its limit, so no request is refused (the benchmark checks).

It also times the throttle code itself (the methods below, wrapped in this process only): the
time a request spends in them, which the noise of a shared machine inflates far less than the
difference of two sets of whole requests.

Run it through scripts/bench.sh, which starts a throwaway PostgreSQL and redis-server:
    scripts/bench.sh throttle [--users 20] [--rounds 100] [--addresses 40]
"""

import argparse
import json
import logging
import secrets
import statistics
import time
from collections.abc import Callable
from decimal import Decimal

LIMIT_MS = 2.0
# Where a request spends its throttling time: the per-address check and count, the per-user throttle.
TIMED_METHODS = (
    ("customer_api.throttling", "FailedAuthenticationThrottle", "allows"),
    ("customer_api.throttling", "FailedAuthenticationThrottle", "count_failure"),
    ("customer_api.throttling", "UserThrottle", "allow_request"),
)


class ThrottleClock:
    """Milliseconds spent in TIMED_METHODS since the last `take()`."""

    def __init__(self) -> None:
        import importlib

        self.spent = 0.0
        for module, cls_name, method in TIMED_METHODS:
            cls = getattr(importlib.import_module(module), cls_name)
            setattr(cls, method, self._timed(getattr(cls, method)))

    def _timed(self, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.spent += (time.perf_counter() - started) * 1000

        return wrapper

    def take(self) -> float:
        spent, self.spent = self.spent, 0.0
        return spent


def seed(users: int) -> list[str]:
    """`users` customers with a funded wallet and a token each."""
    from django.contrib.auth import get_user_model

    from customer_api.tokens import create_api_token
    from ledger.services.funding import fund_wallet

    tokens = []
    for n in range(users):
        user = get_user_model().objects.create(username=f"bench-throttle-{n}")
        for k in range(3):
            fund_wallet(user_id=user.pk, currency="AED", amount=Decimal("100.00"), idempotency_key=f"bench-{n}-{k}")
        tokens.append(create_api_token(username=user.username).token)
    return tokens


def timed(call: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    status = call()
    elapsed = time.perf_counter() - started
    if status != expected:
        raise SystemExit(f"benchmark invalid: HTTP {status}, expected {expected} (a limit was reached?)")
    return elapsed * 1000


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "requests": len(samples),
        "median_ms": round(statistics.median(ordered), 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95) - 1], 3),
    }


def main(users: int, rounds: int, addresses: int) -> None:
    from benchmarks.release_benchmark import setup_django

    setup_django()
    from django.conf import settings
    from django.core.cache import cache
    from django.test import Client, override_settings

    backend = settings.CACHES["default"]["BACKEND"]
    if not backend.endswith("RedisCache"):
        raise SystemExit(f"the cache is {backend}: run through scripts/bench.sh throttle (it starts Redis)")
    rates = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]
    per_user, per_address = (int(rates[scope].split("/")[0]) for scope in ("user", "anon"))
    if rounds >= per_user or (rounds + 3) // 4 >= per_address:
        raise SystemExit(f"--rounds must stay under the per-user limit ({per_user}) and 4 x the per-address one")
    logging.getLogger("django.request").setLevel(logging.ERROR)  # not one line per 401
    tokens = seed(users)
    cache.clear()
    client = Client()
    https = {"secure": True, "HTTP_HOST": "localhost"}  # DEBUG is off: HTTPS only

    def valid(token: str) -> Callable[[], int]:
        return lambda: client.get("/api/v1/transactions", HTTP_AUTHORIZATION=f"Bearer {token}", **https).status_code

    def made_up(address: str) -> Callable[[], int]:
        header = f"Bearer {secrets.token_hex(32)}"
        return lambda: (
            client.get("/api/v1/transactions", HTTP_AUTHORIZATION=header, REMOTE_ADDR=address, **https).status_code
        )

    off = override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {}})
    samples: dict[str, dict[str, list[float]]] = {kind: {"on": [], "off": []} for kind in ("valid", "made_up")}
    inside: dict[str, list[float]] = {"valid": [], "made_up": []}  # ms in the throttle code, throttles on
    clock = ThrottleClock()
    for call in (valid(tokens[0]), valid(tokens[0])):  # warm-up: connections, caches, imports
        call()
    cache.clear()
    clock.take()
    started = time.perf_counter()
    for round_ in range(rounds):
        for mode in ("on", "off") if round_ % 2 else ("off", "on"):
            if mode == "off":
                off.enable()
            try:
                for token in tokens:
                    samples["valid"][mode].append(timed(valid(token), 200))
                    if mode == "on":
                        inside["valid"].append(clock.take())
                if round_ % 4 == 0:  # fewer failures: each address stays under its limit
                    for n in range(addresses):
                        samples["made_up"][mode].append(timed(made_up(f"10.77.{n // 250}.{n % 250 + 1}"), 401))
                        if mode == "on":
                            inside["made_up"].append(clock.take())
            finally:
                if mode == "off":
                    off.disable()
            clock.take()
    seconds = time.perf_counter() - started

    round_trip = []
    for _ in range(1000):
        t = time.perf_counter()
        cache.get("bench-round-trip")
        round_trip.append((time.perf_counter() - t) * 1000)
    results = {}
    for kind, modes in samples.items():
        on, off_ = summary(modes["on"]), summary(modes["off"])
        added = {
            "median_ms": round(on["median_ms"] - off_["median_ms"], 3),
            "mean_ms": round(on["mean_ms"] - off_["mean_ms"], 3),
        }
        in_code = summary(inside[kind])
        results[kind] = max(*added.values(), in_code["mean_ms"])
        print(
            json.dumps(
                {"phase": kind, "throttled": on, "unthrottled": off_, "added": added, "in_throttle_code": in_code}
            )
        )
    worst = max(results.values())
    print(
        json.dumps(
            {
                "phase": "summary",
                "cache": backend,
                "rates": rates,
                "redis_get_median_ms": round(statistics.median(round_trip), 3),
                "seconds": round(seconds, 1),
                "added_ms_worst": worst,
                "limit_ms": LIMIT_MS,
                "within_limit": worst < LIMIT_MS,
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=100, help="requests per user, under the per-user limit")
    parser.add_argument("--addresses", type=int, default=40, help="client addresses sending made-up tokens")
    args = parser.parse_args()
    main(args.users, args.rounds, args.addresses)
