"""A cluster node's command line in tests: PostgreSQL, Redis and quick heartbeats."""

from __future__ import annotations

from tests.integration.services import REDIS_URL

#: a node is taken for dead this long after its last heartbeat (beats every 0.5 s)
DEAD_AFTER_S = 3.0


def node_args(name: str, pg_url: str, prefix: str, *extra: str) -> list[str]:
    return [
        *("--database-url", pg_url, "--redis-url", REDIS_URL, "--redis-prefix", prefix),
        *("--node-id", name, "--node-heartbeat-s", "0.5"),
        *("--node-dead-after-s", str(DEAD_AFTER_S), "--ingest-idle-timeout-s", "30"),
        *extra,
    ]
