"""Liveness, readiness and the drain request (callscope.lifecycle).

* ``GET /health/live``: 200 while the process answers, draining included (a probe that
  fails it restarts the process, which would cut the calls a drain lets end).
* ``GET /health/ready``: 200 when the database answers ``SELECT 1``, Redis answers ``PING``
  (cluster nodes only) and the server is not draining; else 503. The body names every check
  and lists the failed ones: ``{"status": "unready", "failed": ["database"], "checks":
  {"database": "unreachable", "lifecycle": "serving"}}``. Each check is bounded by
  :data:`CHECK_TIMEOUT_S`.
* ``POST /admin/drain``: an admin's bearer token (any address may ask: the token is the
  guard) starts the drain SIGTERM starts; 202 with the live call count. Asking again
  changes nothing.

``/health/live`` and ``/health/ready`` need no token, as ``/health``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from callscope.api.auth import require_admin
from callscope.api.errors import json_response
from callscope.cluster.node import Cluster
from callscope.ingest import IngestService
from callscope.lifecycle import Lifecycle

__all__ = ["CHECK_TIMEOUT_S", "DRAIN_PATH", "LifecycleApi"]

logger = logging.getLogger("callscope.lifecycle")

DRAIN_PATH = "/admin/drain"
#: longest a readiness check may take (a probe's own timeout is often 1-5 s)
CHECK_TIMEOUT_S = 2.0


class LifecycleApi:
    def __init__(
        self,
        lifecycle: Lifecycle,
        engine: AsyncEngine,
        ingest: IngestService,
        cluster: Cluster | None,
        *,
        drain_timeout_s: float,
    ) -> None:
        self.lifecycle = lifecycle
        self.engine = engine
        self.ingest = ingest
        self.cluster = cluster
        self.drain_timeout_s = drain_timeout_s

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/health/live", self.live),
            web.get("/health/ready", self.ready),
            web.post(DRAIN_PATH, self.drain),
        ]

    async def live(self, _request: web.Request) -> web.Response:
        return json_response({"status": "live", "lifecycle": self.lifecycle.phase.value})

    async def ready(self, _request: web.Request) -> web.Response:
        database, redis = await asyncio.gather(
            self._database(), self._redis() if self.cluster is not None else _none()
        )
        checks: dict[str, str] = {"database": "ok" if database else "unreachable"}
        if self.cluster is not None:
            checks["redis"] = "ok" if redis else "unreachable"
        checks["lifecycle"] = self.lifecycle.phase.value
        failed = [name for name in ("database", "redis") if checks.get(name) == "unreachable"]
        if self.lifecycle.draining:
            failed.append("lifecycle")
        body: dict[str, Any] = {"status": "unready" if failed else "ready", "checks": checks}
        if failed:
            body["failed"] = failed
        return json_response(body, status=503 if failed else 200)

    async def _database(self) -> bool:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                async with self.engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
        except Exception as exc:  # whatever the driver raises: the answer is "not ready"
            logger.warning("readiness: the database is unreachable (%s)", type(exc).__name__)
            return False
        return True

    async def _redis(self) -> bool:
        assert self.cluster is not None
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await self.cluster.redis.ping()
        except Exception as exc:  # redis-py's errors, OSError, the timeout
            logger.warning("readiness: Redis is unreachable (%s)", type(exc).__name__)
            return False
        return True

    async def drain(self, request: web.Request) -> web.Response:
        auth = require_admin(request, "ServerDrain")
        started = self.lifecycle.request_drain("drain request")
        if started:
            logger.warning(
                "drain asked for by extension %s of account %s", auth.extension_id, auth.account_id
            )
        return json_response(
            {
                "lifecycle": self.lifecycle.phase.value,
                "started": started,
                "liveStreams": len(self.ingest.connections),
                "drainTimeoutS": self.drain_timeout_s,
            },
            status=202,
        )


async def _none() -> bool:
    return False
