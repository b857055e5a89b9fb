"""Post-call insights: a durable job per ended call → a RingSense document → store + event.

A job row is written with the call's final update (same transaction), so a restart finds
every call still to do. The runner takes due jobs oldest first, one at a time (a bounded
amount of work in memory), once the call's transcript is final — or, if it never becomes
final, ``transcript_wait_s`` after the call ended. A failed attempt is retried with
backoff (5 s doubling, ``max_attempts``), then the job is ``failed`` with its error kept.
Calls whose agent holds no insights licence are ``skipped``: no document, no event (spec
§9.4: only licensed users' conversations).

The document (spec §10, RecordingInsights, built by :mod:`callscope.insights.recording`)
and its event (kind ``insights``, ``eventType`` ``Create``) are written in one transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from callscope.calls.views import current_agent, iso
from callscope.cluster.jobs import JobQueue
from callscope.events.payloads import EventKind
from callscope.insights.analyzers import Embedder, Utterance, analyze
from callscope.insights.llm import LlmClient
from callscope.insights.recording import build_document
from callscope.metrics import Registry
from callscope.store.models import (
    Call,
    Extension,
    Insight,
    InsightJob,
    OutboxEvent,
    Party,
    TelephonySession,
    TranscriptStatus,
    UtteranceRow,
)
from callscope.store.repo import utcnow

__all__ = ["InsightsService", "build_document", "new_job"]

logger = logging.getLogger("callscope.insights")

#: transcript states after which nothing more will be added to it
FINAL_TRANSCRIPTS = (TranscriptStatus.COMPLETE, TranscriptStatus.INCOMPLETE, TranscriptStatus.OFF)


def new_job(call: Call) -> InsightJob:
    now = utcnow()
    return InsightJob(
        call_id=call.id,
        account_id=call.account_ref,
        state="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


class InsightsService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        registry: Registry,
        *,
        embedder: Callable[[], Embedder | None] | None = None,
        transcript_wait_s: float = 300.0,
        max_attempts: int = 5,
        retry_initial_s: float = 5.0,
        poll_s: float = 1.0,
        committed: Callable[[Sequence[Any]], None] | None = None,
        llm: LlmClient | None = None,
    ) -> None:
        self._sessions = sessions
        self.llm = llm
        self._embedder_factory = embedder
        self._embed: Embedder | None = None
        self._embed_loaded = False
        self.embedding_error: str | None = None
        self.transcript_wait_s = transcript_wait_s
        self.max_attempts = max_attempts
        self.retry_initial_s = retry_initial_s
        self.poll_s = poll_s
        self._committed = committed
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        #: in a cluster: the Redis job queue shared by the nodes (None: this node's table scan)
        self.queue: JobQueue | None = None
        self.jobs_total = registry.counter(
            "callscope_insight_jobs_total", "Insight jobs finished, by result."
        )
        self.seconds = registry.histogram(
            "callscope_insight_seconds",
            "Time to analyse one call (transcript in → document out).",
            (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0),
        )

    async def start(self, *, catch_up_days: float = 7.0) -> None:
        """Queue a job for every call of an account that ended in the last ``catch_up_days``
        without one (a crash between a call's end and its commit, calls from before
        insights were on), then run."""
        missing = await self.queue_missing(since=utcnow() - timedelta(days=catch_up_days))
        if missing:
            logger.info("queued insights for %d call(s) that had no job", len(missing))
        if self.queue is not None:
            self.queue.on_reset = self.requeue
            await self.queue.start()
            await self.requeue()
            self._task = asyncio.create_task(self._run_queue(self.queue), name="callscope-insights")
        else:
            self._task = asyncio.create_task(self._run(), name="callscope-insights")

    async def queue_missing(
        self, *, since: datetime | None = None, call_ids: Sequence[str] | None = None
    ) -> list[str]:
        """Jobs for ended calls of an account that have none (those that ended after
        ``since``, or those of ``call_ids``: a dead node's interrupted calls)."""
        async with self._sessions.begin() as s:
            q = select(Call).where(
                Call.account_ref.is_not(None),
                Call.status != "live",
                Call.id.not_in(select(InsightJob.call_id)),
            )
            if since is not None:
                q = q.where(Call.ended_at >= since)
            if call_ids is not None:
                q = q.where(Call.id.in_(list(call_ids)))
            missing = list((await s.execute(q)).scalars())
            s.add_all(new_job(c) for c in missing)
        ids = [c.id for c in missing]
        if ids:
            if self.queue is not None and self.queue.started:
                await self.queue.add(ids)
            self._wake.set()
        return ids

    async def requeue(self) -> None:
        """Cluster: queue every pending job again (one whose queuing a dead node never did
        is found; the ones held elsewhere are dropped as duplicates)."""
        if self.queue is None:
            return
        async with self._sessions() as s:
            pending = list(
                (
                    await s.execute(select(InsightJob.call_id).where(InsightJob.state == "pending"))
                ).scalars()
            )
        await self.queue.add(pending)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.queue is not None:
            await self.queue.stop()

    def kick(self) -> None:
        self._wake.set()

    def committed(self, rows: Sequence[Any]) -> None:
        """Row-writer hook: a job (or a transcript's end) was committed."""
        jobs = [r.call_id for r in rows if isinstance(r, InsightJob)]
        if jobs:
            if self.queue is not None:
                self.queue.add_soon(jobs)
            self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_s)
            self._wake.clear()
            try:
                while await self._next():
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("insights runner failed; retrying")
                await asyncio.sleep(self.poll_s)

    async def _run_queue(self, queue: JobQueue) -> None:
        """Cluster: do the jobs this node takes from the shared queue."""
        while True:
            try:
                await queue.take(self.poll_s)
                while queue.held and await self._next(only=list(queue.held)):
                    pass
                if queue.held:
                    for call_id in await self._settled(list(queue.held)):
                        await queue.done(call_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("insights queue runner failed; retrying")
                await asyncio.sleep(self.poll_s)

    async def _settled(self, call_ids: list[str]) -> list[str]:
        """Those of ``call_ids`` whose job is no longer pending (done, skipped, failed, gone)."""
        async with self._sessions() as s:
            q = select(InsightJob.call_id).where(
                InsightJob.call_id.in_(call_ids), InsightJob.state == "pending"
            )
            pending = set((await s.execute(q)).scalars())
        return [c for c in call_ids if c not in pending]

    async def _next(self, only: list[str] | None = None) -> bool:
        """Do the oldest due job (of ``only``, if given), if any. Returns whether one was done."""
        now = utcnow()
        waited = now - timedelta(seconds=self.transcript_wait_s)
        async with self._sessions() as s:
            q = (
                select(InsightJob.call_id)
                .join(Call, Call.id == InsightJob.call_id)
                .where(
                    InsightJob.state == "pending",
                    InsightJob.next_attempt_at <= now,
                    or_(
                        Call.transcript_status.in_([str(t) for t in FINAL_TRANSCRIPTS]),
                        Call.transcript_status.is_(None),
                        Call.ended_at <= waited,
                    ),
                )
                .order_by(InsightJob.created_at)
                .limit(1)
            )
            if only is not None:
                q = q.where(InsightJob.call_id.in_(only))
            call_id = (await s.execute(q)).scalar_one_or_none()
        if call_id is None:
            return False
        t0 = time.monotonic()
        try:
            result = await self.make(call_id)
        except Exception as exc:
            await self._failed(call_id, exc)
            return True
        self.jobs_total.inc(result=result)
        if result == "done":
            self.seconds.observe(time.monotonic() - t0)
        return True

    async def _failed(self, call_id: str, exc: Exception) -> None:
        async with self._sessions.begin() as s:
            job = await s.get(InsightJob, call_id)
            if job is None:
                return
            job.attempts += 1
            job.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if job.attempts >= self.max_attempts:
                job.state = "failed"
                self.jobs_total.inc(result="failed")
                logger.error("call %s: insights failed for good: %s", call_id, job.last_error)
            else:
                wait = self.retry_initial_s * 2 ** (job.attempts - 1)
                job.next_attempt_at = utcnow() + timedelta(seconds=wait)
                logger.warning(
                    "call %s: insights attempt %d failed (%s); again in %.0f s",
                    call_id,
                    job.attempts,
                    job.last_error,
                    wait,
                )

    def _embedder(self) -> Embedder | None:
        """The sentence model, loaded once. One that cannot load (a damaged file) leaves the
        rules alone at work; the documents say so."""
        if not self._embed_loaded:
            self._embed_loaded = True
            if self._embedder_factory is not None:
                try:
                    self._embed = self._embedder_factory()
                except Exception as exc:
                    self.embedding_error = f"{type(exc).__name__}: {exc}"[:500]
                    logger.error("insights: sentence model unavailable, rules only: %s", exc)
        return self._embed

    async def analyze_text(self, utterances: list[Utterance], source: str) -> dict[str, Any]:
        """The document of a transcript that is no recorded call (the text path), made off
        the event loop with the server's sentence model."""
        from callscope.insights.textpath import analyze_text

        embed = await asyncio.to_thread(self._embedder)
        return await asyncio.to_thread(analyze_text, utterances, source=source, embed=embed)

    async def make(self, call_id: str) -> str:
        """Build, store and publish one call's insights. Returns done | skipped."""
        async with self._sessions() as s:
            call = await s.get(Call, call_id)
            session = (
                await s.execute(select(TelephonySession).where(TelephonySession.call_id == call_id))
            ).scalar_one_or_none()
            parties = (
                list(
                    (
                        await s.execute(
                            select(Party).where(Party.session_id == session.id).order_by(Party.id)
                        )
                    ).scalars()
                )
                if session
                else []
            )
            ext_ids = {p.extension_id for p in parties if p.extension_id is not None}
            extensions = (
                {
                    e.id: e
                    for e in (
                        await s.execute(select(Extension).where(Extension.id.in_(ext_ids)))
                    ).scalars()
                }
                if ext_ids
                else {}
            )
            rows = list(
                (
                    await s.execute(
                        select(UtteranceRow)
                        .where(UtteranceRow.call_id == call_id)
                        .order_by(UtteranceRow.start_ms, UtteranceRow.seq)
                    )
                ).scalars()
            )
        agent = current_agent(parties)
        owner = extensions.get(agent.extension_id) if agent and agent.extension_id else None
        if call is None or session is None or session.account_id is None:
            return await self._finish(call_id, "skipped", "no telephony session or account")
        if owner is None or not owner.insights_licence:
            why = "the agent has no insights licence" if owner else "the agent is unknown"
            return await self._finish(call_id, "skipped", why)
        utterances = [
            Utterance(
                r.seq, r.speaker, r.party_id, r.start_ms / 1000, r.end_ms / 1000, r.text.strip()
            )
            for r in rows
            if r.text.strip()
        ]
        embed = self._embedder()
        analysis = await asyncio.to_thread(
            analyze, utterances, (call.duration_ms or 0) / 1000, embed=embed
        )
        engine: dict[str, Any] = {"engine": "offline"}
        if self.embedding_error:
            engine["embeddingError"] = self.embedding_error
        improved = None
        if self.llm is not None and utterances:
            improved, error, attempts = await self.llm.insights(utterances)
            engine.update(engine="llm" if improved else "offline", model=self.llm.model)
            engine["llmAttempts"] = attempts
            if error:
                engine["llmError"] = error
                logger.warning("call %s: LLM insights not used: %s", call_id, error)
        now = utcnow()
        document = build_document(
            call,
            session,
            parties,
            extensions,
            utterances,
            analysis,
            owner,
            now,
            llm=improved,
            engine=engine,
        )
        event = OutboxEvent(
            account_id=session.account_id,
            kind=EventKind.INSIGHTS,
            extension_id=owner.id,
            payload={**document, "eventType": "Create"},
            created_at=now,
        )
        async with self._sessions.begin() as s:
            existing = await s.get(Insight, call_id)
            if existing is None:
                s.add(
                    Insight(
                        id=call_id,
                        account_id=session.account_id,
                        session_id=session.id,
                        owner_extension_id=owner.id,
                        document=document,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                document["creationTime"] = existing.document.get("creationTime", iso(now))
                existing.document = document
                existing.updated_at = now
            s.add(event)
            job = await s.get(InsightJob, call_id)
            if job is not None:
                job.state = "done"
                job.last_error = None
        if self._committed is not None:
            self._committed([event])
        logger.info(
            "call %s: insights made (%d utterances, %d next steps)",
            call_id,
            len(utterances),
            len(analysis.next_steps),
        )
        return "done"

    async def _finish(self, call_id: str, state: str, why: str) -> str:
        async with self._sessions.begin() as s:
            job = await s.get(InsightJob, call_id)
            if job is not None:
                job.state = state
                job.last_error = why
        logger.info("call %s: no insights (%s)", call_id, why)
        return state

    async def get(self, account_id: str, record_id: str) -> Insight | None:
        async with self._sessions() as s:
            row = await s.get(Insight, record_id)
        return row if row is not None and row.account_id == account_id else None

    async def for_session(self, account_id: str, session_id: str) -> list[Insight]:
        async with self._sessions() as s:
            q = (
                select(Insight)
                .where(Insight.account_id == account_id, Insight.session_id == session_id)
                .order_by(Insight.created_at)
            )
            return list((await s.execute(q)).scalars())

    async def job(self, call_id: str) -> InsightJob | None:
        async with self._sessions() as s:
            return await s.get(InsightJob, call_id)
