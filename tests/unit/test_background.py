"""The server's background tasks: a periodic job outlives a failing round, a task starts
once and its stop waits until it has ended."""

from __future__ import annotations

import asyncio
import logging

import pytest

from callscope.background import BackgroundTask, every
from tests.helpers.wait import until

logger = logging.getLogger("callscope.test")


async def test_a_failing_round_is_logged_and_the_next_one_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("database unreachable")

    task = BackgroundTask("t", every(0.01, work, what="the test job", logger=logger))
    with caplog.at_level(logging.ERROR, logger="callscope.test"):
        task.start()
        await until(lambda: len(rounds) >= 3, 5, "three rounds")
        await task.stop()
    assert [r.getMessage() for r in caplog.records] == [
        "the test job failed; it runs again in 0.01 s"
    ]
    assert not task.running
    done = len(rounds)
    await asyncio.sleep(0.05)
    assert len(rounds) == done  # stopped means no more rounds


@pytest.mark.parametrize("first_at_once", [True, False])
async def test_the_first_round_runs_at_once_or_after_one_interval(first_at_once: bool) -> None:
    rounds: list[int] = []

    async def work() -> None:
        rounds.append(1)

    task = BackgroundTask(
        "t", every(3600, work, what="j", logger=logger, first_at_once=first_at_once)
    )
    task.start()
    for _ in range(5):
        await asyncio.sleep(0)
    await task.stop()
    assert rounds == ([1] if first_at_once else [])


async def test_a_second_start_does_not_start_a_second_task_and_stop_waits() -> None:
    started, ended = [], []

    async def run() -> None:
        started.append(1)
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that takes a turn of the loop
            ended.append(1)

    task = BackgroundTask("t", run)
    task.start()
    task.start()
    await until(lambda: started, 5, "started")
    assert task.running
    await task.stop()
    assert (started, ended) == ([1], [1])
    await task.stop()  # stopping twice is harmless
