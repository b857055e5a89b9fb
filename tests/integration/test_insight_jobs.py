"""The insight job queue on a real SQLite database: a job whose analysis fails is retried
with backoff and then marked failed with its error; a fixed cause lets the next job through;
unlicensed and account-less calls are skipped."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from callscope.insights.embeddings import MiniLM, packaged_paths
from callscope.insights.service import InsightsService, new_job
from callscope.metrics import Registry
from callscope.store.db import create_engine, sessionmaker, upgrade
from callscope.store.models import (
    Account,
    Call,
    Extension,
    Insight,
    InsightJob,
    OutboxEvent,
    Party,
    TelephonySession,
    UtteranceRow,
)
from callscope.store.repo import utcnow


async def _world(sessions: object, call_id: str, *, licensed: bool = True) -> None:
    now = utcnow()
    async with sessions.begin() as s:  # type: ignore[attr-defined]
        if await s.get(Account, "7") is None:
            s.add(Account(id="7", name="Co", created_at=now))
        ext_id = 71 if licensed else 72
        if await s.get(Extension, ext_id) is None:
            s.add(
                Extension(
                    id=ext_id, account_id="7", extension_number=str(ext_id), first_name="Al",
                    last_name="Agent", type="User", status="Enabled", created_at=now,
                    insights_licence=licensed,
                )
            )  # fmt: skip
        call = Call(
            id=call_id, status="completed", account_ref="7", ani="+15550100",
            started_at=now - timedelta(seconds=20), ended_at=now, duration_ms=20_000,
            recording_path="/nonexistent.wav", transcript_status="complete",
        )  # fmt: skip
        await s.flush()  # rows in foreign-key order
        s.add(call)
        await s.flush()
        s.add(
            TelephonySession(
                id=f"s-{call_id}", account_id="7", call_id=call_id, origin_type="Call",
                direction="Inbound", live=False, creation_time=now, event_sequence=4,
            )
        )  # fmt: skip
        await s.flush()
        for pid, role, ext in (
            (f"p-{call_id}-1", "customer", None),
            (f"p-{call_id}-2", "agent", ext_id),
        ):
            s.add(
                Party(
                    id=pid, session_id=f"s-{call_id}", role=role, account_id="7" if ext else None,
                    extension_id=ext, direction="Inbound", status_code="Disconnected",
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        s.add(
            UtteranceRow(
                call_id=call_id, seq=1, speaker="agent", party_id=f"p-{call_id}-2",
                start_ms=1000, end_ms=4000, text="I will email you the form today.",
                confidence=0.9,
            )
        )  # fmt: skip
        s.add(new_job(call))


async def _state(sessions: object, call_id: str) -> InsightJob:
    async with sessions() as s:  # type: ignore[operator]
        job = await s.get(InsightJob, call_id)
        assert job is not None
        return job  # type: ignore[no-any-return]


async def _until_done(sessions: object, *call_ids: str) -> list[InsightJob]:
    for _ in range(200):
        jobs = [await _state(sessions, c) for c in call_ids]
        if all(j.state != "pending" for j in jobs):
            return jobs
        await asyncio.sleep(0.05)
    raise AssertionError(f"jobs still pending: {call_ids}")


def _failing_inference() -> Callable[[Sequence[str]], Any]:
    """Stands in for an inference failure we cannot provoke on demand (onnxruntime out of
    memory): the model loads, every call to it raises."""

    def embed(texts: Sequence[str]) -> Any:
        raise RuntimeError("inference failed: out of memory")

    return embed


async def test_failed_jobs_are_retried_then_marked_and_others_go_on(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}")
    await upgrade(engine)
    sessions = sessionmaker(engine)
    service = InsightsService(
        sessions,
        Registry(),
        embedder=_failing_inference,
        retry_initial_s=0.05,
        max_attempts=3,
        poll_s=0.05,
    )
    try:
        await _world(sessions, "c-bad")
        await service.start()
        (job,) = await _until_done(sessions, "c-bad")
        assert job.state == "failed"
        assert job.attempts == 3
        assert job.last_error == "RuntimeError: inference failed: out of memory"
        assert service.jobs_total.get(result="failed") == 1
        async with sessions() as s:
            assert await s.get(Insight, "c-bad") is None
        await service.stop()

        # Restarted with a damaged model file: the rules alone make the document, which
        # says so; an unlicensed agent's call is skipped.
        broken = tmp_path / "model.onnx"
        broken.write_bytes(b"not an onnx model")
        _, tokenizer = packaged_paths()
        service = InsightsService(
            sessions,
            Registry(),
            embedder=lambda: MiniLM(broken, tokenizer),
            retry_initial_s=0.05,
            poll_s=0.05,
        )
        await _world(sessions, "c-good")
        await _world(sessions, "c-nolicence", licensed=False)
        await service.start()
        good, other = await _until_done(sessions, "c-good", "c-nolicence")
        assert (good.state, other.state) == ("done", "skipped")
        assert other.last_error == "the agent has no insights licence"
        async with sessions() as s:
            insight = await s.get(Insight, "c-good")
            assert insight is not None
            steps = insight.document["insights"]["NextSteps"]
            assert [x["value"] for x in steps] == ["Email the customer the form today."]
            analysis = insight.document["callscopeAnalysis"]
            assert analysis["engine"] == "offline"
            assert "INVALID_PROTOBUF" in analysis["embeddingError"]
            events = (await s.execute(OutboxEvent.__table__.select())).all()
            assert [e.kind for e in events] == ["insights"]
            assert await s.get(Insight, "c-nolicence") is None
    finally:
        await service.stop()
        await engine.dispose()
