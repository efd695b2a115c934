"""The health probes, built on django-health-check (4.x: checks are dataclasses run by a view).

- liveness, /health/live/: the process answers; no check, so a database or broker outage
  never gets a healthy app server restarted;
- readiness, /health/ready/: the database answers (`SELECT 1`), every migration is applied,
  and the Celery broker answers a PING. A release or an admin action needs all three.

Both answer JSON, `{"status": "ok" | "unavailable", "checks": {<check>: "OK" | <error>}}`,
with 200 or 503 (the library answers 500; a probe's "not ready" is 503), never cached.
Check names show hosts and aliases, never passwords.
"""

import asyncio
import dataclasses
import datetime
from collections.abc import Callable

from django.conf import settings
from django.db import DatabaseError, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView
from redis.asyncio import Redis as RedisClient

BROKER_TIMEOUT_SECONDS = 2.0


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of the code is applied to the database (what `migrate --check` checks)."""

    alias: str = "default"

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            with connection.temporary_connection():  # closed again: probe threads come and go
                executor = MigrationExecutor(connection)
                plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        except DatabaseError as exc:
            raise ServiceUnavailable("cannot read the applied migrations") from exc
        if plan:
            raise ServiceUnavailable(f"{len(plan)} migration(s) not applied")


def broker_client() -> RedisClient:
    """A client of the Celery broker (Redis), with short timeouts: an unreachable broker makes
    the probe answer 503 quickly, not hang."""
    return RedisClient.from_url(
        settings.CELERY_BROKER_URL,
        socket_connect_timeout=BROKER_TIMEOUT_SECONDS,
        socket_timeout=BROKER_TIMEOUT_SECONDS,
    )


@dataclasses.dataclass(repr=False)  # the library's repr: host, port and db, never the password
class Broker(Redis):
    """The library's Redis check, on the Celery broker's URL (read at each probe)."""

    client_factory: Callable[[], RedisClient] | None = dataclasses.field(repr=False, default=broker_client)
    timeout = datetime.timedelta(seconds=BROKER_TIMEOUT_SECONDS)


class ProbeView(HealthCheckView):
    """The library's checks and their results, always as JSON, 503 when one fails."""

    checks = ()

    async def get(self, request: HttpRequest, *args, **kwargs) -> JsonResponse:
        with self.get_executor() as executor:
            results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        failed = any(result.error for result in results)
        return JsonResponse(
            {
                "status": "unavailable" if failed else "ok",
                "checks": {repr(result.check): str(result.error) if result.error else "OK" for result in results},
            },
            status=503 if failed else 200,
        )


class LivenessView(ProbeView):
    checks = ()


class ReadinessView(ProbeView):
    checks = (Database, Migrations, Broker)
