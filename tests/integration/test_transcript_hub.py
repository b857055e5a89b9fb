"""The transcript hub in-process with a real worker, real engine and real SQLite: a party
that joins later (a barging supervisor) is transcribed on its own and labelled by role."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from callscope.events.bus import Bus
from callscope.media.pipeline import StereoBlock
from callscope.media.wav import WavWriter, read_wav
from callscope.metrics import Registry
from callscope.sim.runner import default_source
from callscope.store.models import TranscriptStatus
from callscope.transcription.live import TranscriptHub
from callscope.transcription.pool import PoolOptions, WorkerPool
from tests.helpers.rows import new_call, setup

pytestmark = pytest.mark.slow

FRAME = 160  # samples per 20 ms


def words(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ")


async def test_a_barging_supervisor_gets_a_channel_and_a_label_of_its_own(
    tmp_path: Path,
) -> None:
    repo, rows, engine = await setup(tmp_path)
    bus = Bus()
    registry = Registry()
    pool = WorkerPool(PoolOptions(workers=1), registry)
    await pool.start()
    hub = TranscriptHub(pool, rows, bus, registry, calls=repo)
    try:
        call = new_call(1)
        call.account_ref = "70000001"
        rows.create(call)
        events = bus.subscribe("70000001.calls.c00001.")
        t = hub.attach(call.id, "70000001", ("p-a", "p-c"))
        _, pcm = read_wav(default_source())
        # the call: its first 12 s (agent greeting, the customer's problem) as stereo blocks
        stereo = pcm[: 12 * 8000]
        for i in range(0, len(stereo), 2 * FRAME):
            block = stereo[i : i + 2 * FRAME]
            t.on_block(StereoBlock(i // FRAME, block.astype("<i2").tobytes()))
        # a supervisor barges in at 12 s; their voice is the agent's next turn (14.9-20.5 s)
        supervisor = t.add_party("supervisor", "p-s")
        voice = pcm[int(14.5 * 8000) : 21 * 8000, 0].copy()
        for i in range(0, len(voice), 2 * FRAME):
            chunk = voice[i : i + 2 * FRAME]
            supervisor.push(chunk.astype("<i2").tobytes(), 600 + i // FRAME, len(chunk) // FRAME)
        supervisor.end()
        t.end()
        await asyncio.wait_for(t.done.wait(), 120)
        assert hub.get(call.id) is None

        stored = await repo.utterances(call.id)
        by_speaker: dict[str, str] = {}
        for u in stored:
            by_speaker[u.speaker] = by_speaker.get(u.speaker, "") + " " + words(u.text)
        assert "northwind internet support" in by_speaker["agent"]
        # the customer's problem ("locked out of my online account ... reset my password"):
        # words whisper keeps however the live decoder cut the audio under load
        assert "account" in by_speaker["customer"]
        assert "password" in by_speaker["customer"]
        assert "password" not in by_speaker["agent"]
        assert "sorry about that" in by_speaker["supervisor"]
        assert "sorry about that" not in by_speaker["agent"]  # not in the call's channels
        sup = [u for u in stored if u.speaker == "supervisor"]
        assert {u.party_id for u in sup} == {"p-s"}
        assert all(u.start_ms >= 12_000 for u in sup)  # call-relative, from its start frame
        assert {u.party_id for u in stored if u.speaker == "agent"} == {"p-a"}
        assert (await repo.get(call.id)).transcript_status == TranscriptStatus.COMPLETE  # type: ignore[union-attr]

        seen = []
        while True:
            e = await asyncio.wait_for(events.get(), 5)
            seen.append(e["event"])
            if e["event"] == "transcript.completed":
                break
        assert seen.count("transcript.final") == len(stored)
        with pytest.raises(RuntimeError, match="has ended"):
            t.add_party("supervisor", "p-s2")
    finally:
        await pool.stop()
        await rows.stop()
        await engine.dispose()  # type: ignore[attr-defined]


async def test_audio_a_choked_worker_could_not_take_is_recovered_from_the_recording(
    tmp_path: Path,
) -> None:
    repo, rows, engine = await setup(tmp_path)
    bus = Bus()
    registry = Registry()
    # a worker "choked": the pool refuses every chunk, as when a worker is that far behind
    pool = WorkerPool(PoolOptions(workers=1, max_buffer_bytes=-1), registry)
    await pool.start()
    hub = TranscriptHub(pool, rows, bus, registry, calls=repo, backfill_speed=20.0)
    try:
        await hub.start_backfills()
        _, pcm = read_wav(default_source())
        excerpt = pcm[: 12 * 8000]
        recording = tmp_path / "call.wav"
        w = WavWriter(recording)
        w.write_stereo(excerpt[:, 0].copy(), excerpt[:, 1].copy())
        w.close()
        call = new_call(2)
        call.account_ref = "70000001"
        call.recording_path = str(recording)
        rows.create(call)
        t = hub.attach(call.id, "70000001", ("p-a", "p-c"), recording)
        for i in range(0, len(excerpt), 2 * FRAME):
            t.on_block(StereoBlock(i // FRAME, excerpt[i : i + 2 * FRAME].astype("<i2").tobytes()))
        t.end()
        pool.options = dataclasses.replace(pool.options, max_buffer_bytes=64 << 20)  # recovers
        await asyncio.wait_for(t.done.wait(), 60)
        assert t.status == TranscriptStatus.INCOMPLETE
        assert t.utterances == []
        deadline = asyncio.get_running_loop().time() + 90
        while asyncio.get_running_loop().time() < deadline:
            row = await repo.get(call.id)
            assert row is not None
            if row.transcript_status == TranscriptStatus.COMPLETE:
                break
            await asyncio.sleep(0.2)
        assert row.transcript_status == TranscriptStatus.COMPLETE
        text = " ".join(words(u.text) for u in await repo.utterances(call.id))
        assert "northwind internet support" in text
        assert "locked out" in text
        (dropped,) = [
            float(line.split()[-1])
            for line in registry.render().splitlines()
            if line.startswith("callscope_asr_audio_dropped_seconds_total")
        ]
        assert dropped == pytest.approx(12.0)  # every second of the call, counted
    finally:
        await hub.stop(10)
        await rows.stop()
        await engine.dispose()  # type: ignore[attr-defined]
