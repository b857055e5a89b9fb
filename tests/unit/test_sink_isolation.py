"""A call's audio consumers are isolated (callscope.ingest.service.LiveCall.add_sink): one
that raises is counted, detached and never called again, and the sinks after it still get
every block — the one it failed on included."""

from __future__ import annotations

import asyncio
import errno
import os

from callscope.config import Settings
from callscope.ingest.service import IngestService, LiveCall, UpgradeParams
from callscope.media.pipeline import StereoBlock
from callscope.metrics import Registry
from callscope.protocols.ringcx import PERSPECTIVES

SILENCE = b"\xff" * 160  # 20 ms of μ-law silence


async def test_a_failing_sink_is_detached_and_the_others_get_every_block() -> None:
    registry = Registry()
    service = IngestService(Settings(), calls=None, registry=registry)  # type: ignore[arg-type]

    async def close(_code: int, _reason: str) -> None:
        return None

    call = LiveCall(service, UpgradeParams.from_query({}), close)
    first: list[StereoBlock] = []
    last: list[StereoBlock] = []
    failing_calls: list[StereoBlock] = []
    errors: list[Exception] = []

    def full_disk(block: StereoBlock) -> None:
        failing_calls.append(block)
        if len(failing_calls) >= 3:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    call.add_sink(first.append, name="recording")
    call.add_sink(full_disk, name="transcription", on_error=errors.append)
    call.add_sink(last.append, name="supervision")
    for seq in range(1, 201):
        for perspective in PERSPECTIVES:
            call.pipeline.push(perspective, seq, SILENCE, 1000.0 + seq * 0.02)
        await asyncio.sleep(0)  # the event loop turns, as between two messages
    call.pipeline.finish(1010.0)

    assert len(first) > 3
    assert len(last) == len(first)  # the block the sink failed on reached the next sink too
    assert len(failing_calls) == 3  # never called again, not even by the final flush
    assert [type(e) for e in errors] == [OSError]
    assert len(call.media.sinks) == 2
    assert 'callscope_sink_failures_total{sink="transcription"} 1' in registry.render()
