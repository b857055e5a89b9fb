"""Pure parts of the wallboard: phone numbers as people write them, sentiment words, queue
figures, and the audit trail's rows (on a real SQLite database)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from callscope.api.wallboard import _queues
from callscope.calls.wallboard import sentiment_label
from callscope.store.repo import _digits
from callscope.supervision.audit import SupervisionAudit
from tests.helpers.rows import new_call, setup


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("+16505550100", "16505550100"),
        ("+1 650 555 0100", "16505550100"),
        ("(650) 555-0100", "6505550100"),
        ("650.555.0100", "6505550100"),
        ("650/555 0100", "6505550100"),
        ("password", ""),  # words are not a number
        ("5501x", ""),
        ("12", ""),  # too short to be one
        ("", ""),
    ],
)
def test_a_phone_number_is_its_digits_however_it_is_written(written: str, digits: str) -> None:
    assert _digits(written) == digits


@pytest.mark.parametrize(
    ("score", "label"),
    [(None, None), (-0.6, "Negative"), (-0.05, "Negative"), (0.0, "Neutral"), (0.3, "Positive")],
)
def test_sentiment_words(score: float | None, label: str | None) -> None:
    assert sentiment_label(score) == label


def test_queue_figures_count_live_calls_and_the_longest() -> None:
    calls: list[dict[str, Any]] = [
        {"productType": "Queue", "productId": "4401", "elapsedMs": 5_000},
        {"productType": "Queue", "productId": "4401", "elapsedMs": 90_000},
        {"productType": "Campaign", "productId": "7", "elapsedMs": 1_000},
        {"productType": None, "productId": None, "elapsedMs": 99_000},  # no queue: not counted
    ]
    assert _queues(calls) == [
        {"productType": "Campaign", "productId": "7", "liveCalls": 1, "longestCallMs": 1_000},
        {"productType": "Queue", "productId": "4401", "liveCalls": 2, "longestCallMs": 90_000},
    ]


async def test_the_audit_keeps_a_row_per_device_call_and_mode(tmp_path: Path) -> None:
    """One device supervising two calls at once has a row for each; a mode change closes
    one row and opens the next; an end closes the call's row only."""
    _, writer, engine = await setup(tmp_path)
    changed: list[str] = []

    async def on_change(call_id: str) -> None:
        changed.append(call_id)

    try:
        for i in (1, 2):
            writer.create(new_call(i))
        audit = SupervisionAudit(writer, on_change)
        audit.started("acct", 101, 7, "c00001", "Listen")
        audit.started("acct", 101, 7, "c00002", "Listen")  # the same phone, another call
        audit.started("acct", 101, 7, "c00001", "Listen")  # no change: no new row
        audit.started("acct", 101, 7, "c00001", "Coach")
        audit.ended(7, "c00002")
        audit.ended(7, "c00002")  # ended once
        await writer.flush()
        async with engine.connect() as conn:  # type: ignore[attr-defined]
            rows = (
                await conn.execute(
                    text(
                        "SELECT call_id, mode, ended_at IS NOT NULL FROM supervision_sessions"
                        " ORDER BY call_id, started_at"
                    )
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("c00001", "Listen", 1),
            ("c00001", "Coach", 0),
            ("c00002", "Listen", 1),
        ]
        await asyncio.sleep(0)  # the change callbacks run as tasks
        assert sorted(changed) == ["c00001", "c00001", "c00002", "c00002"]
    finally:
        await writer.stop()
        await engine.dispose()  # type: ignore[attr-defined]
