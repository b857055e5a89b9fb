"""Fixtures of the integration tests: the real PostgreSQL and Redis (see ``services``)."""

from tests.integration.services import pg_url, redis_prefix

__all__ = ["pg_url", "redis_prefix"]
