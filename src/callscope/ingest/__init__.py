"""Live call ingest: one :class:`LiveCall` per stream, owned by :class:`IngestService`."""

from callscope.ingest.service import IngestService, LiveCall, UpgradeParams

__all__ = ["IngestService", "LiveCall", "UpgradeParams"]
