"""Retention: insights documents and call recordings older than the configured period are
deleted by a job that runs at start-up and then every ``sweep_s``. A purged recording's call
row stays (its metadata, transcript and telephony history), marked ``recording_purged_at``;
asking for the recording then answers 410 Gone."""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.background import BackgroundTask, every
from callscope.metrics import Registry
from callscope.store.models import Call, Insight
from callscope.store.repo import utcnow

__all__ = ["RetentionJob"]

logger = logging.getLogger("callscope.retention")


class RetentionJob:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: Registry,
        *,
        days: float,
        sweep_s: float = 3600.0,
    ) -> None:
        self._sessions = sessions
        self.days = days
        self.sweep_s = sweep_s
        self._task = BackgroundTask(
            "callscope-retention",
            every(sweep_s, self.purge, what="the retention job", logger=logger, first_at_once=True),
        )
        self.purged = registry.counter(
            "callscope_retention_purged_total", "Insights and recordings deleted, by kind."
        )

    def start(self) -> None:
        if self.days > 0:
            self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    async def purge(self) -> tuple[int, int]:
        """Delete what is older than the period. Returns (insights, recordings) deleted."""
        now = utcnow()
        cutoff = now - timedelta(days=self.days)
        async with self._sessions.begin() as s:
            result = await s.execute(delete(Insight).where(Insight.created_at < cutoff))
            insights = int(result.rowcount or 0)  # type: ignore[attr-defined]
            calls = list(
                (
                    await s.execute(
                        select(Call).where(
                            Call.ended_at < cutoff,
                            Call.status != "live",
                            Call.recording_purged_at.is_(None),
                        )
                    )
                ).scalars()
            )
            for call in calls:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(call.recording_path)
                call.recording_purged_at = now
        if insights or calls:
            self.purged.inc(insights, kind="insights")
            self.purged.inc(len(calls), kind="recordings")
            logger.info(
                "retention (%g days): deleted %d insights document(s), %d recording(s)",
                self.days,
                insights,
                len(calls),
            )
        return insights, len(calls)
