"""serve + simulate on 127.0.0.1: what arrives is what was sent, whatever the network does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import wave
from pathlib import Path

import aiohttp
import numpy as np
import pytest

from callscope.media.wav import read_wav
from callscope.protocols.ringcx import (
    Perspective,
    build_connected,
    build_media,
    build_start,
    build_stop,
)
from callscope.sim.wsclient import connect
from tests.conftest import Server, make_stereo_fixture
from tests.helpers import runner
from tests.helpers.runner import Simulation, get_json, start_simulate, wait_for_status
from tests.helpers.wait import until

pytestmark = pytest.mark.slow


def simulate(server: Server, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return runner.simulate(server, *args, timeout=timeout)


def simulate_in_background(server: Server, source: Path) -> Simulation:
    """One call at 2x real time, left running while the test acts on the server."""
    return start_simulate(server, "--source", str(source), "--speed", "2")


def expected_with_drops(source: np.ndarray, dropped: dict[str, list[int]]) -> np.ndarray:
    expected = source.copy()
    for channel, name in ((0, "Participant"), (1, "Conference")):
        for seq in dropped[name]:
            expected[(seq - 1) * 160 : seq * 160, channel] = 0
    return expected


async def test_recording_equals_source_apart_from_dropped_frames(
    server: Server, tmp_path: Path
) -> None:
    source = make_stereo_fixture(tmp_path / "fixture.wav", seconds=6)
    report = tmp_path / "report.json"
    result = simulate(
        server,
        "--source", str(tmp_path / "fixture.wav"),
        "--calls", "2", "--speed", "8", "--seed", "11",
        "--reorder", "0.08", "--duplicate", "0.08", "--drop", "0.03", "--malformed", "0.03",
        "--report", str(report),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "2 call(s): 2 completed" in result.stdout
    runs = json.loads(report.read_text())
    calls = await wait_for_status(server, "completed", 2)
    by_ringcx = {c["ringcxCallId"]: c for c in calls}
    for run in runs:
        dropped = run["dropped"]
        assert sum(map(len, dropped.values())) > 0, "the fault plan must drop something"
        call = by_ringcx[run["call_id"]]
        assert call["frames"]["missing"] == sum(map(len, dropped.values()))
        assert call["frames"]["duplicate"] >= run["duplicated"]
        assert call["frames"]["malformed"] == run["malformed"] > 0
        assert call["frames"]["late"] == 0
        assert call["durationMs"] == len(source) * 1000 // 8000
        rate, recorded = read_wav(server.data_dir / "recordings" / f"{call['id']}.wav")
        assert rate == 8000
        expected = expected_with_drops(source, dropped)
        assert recorded.shape == expected.shape
        mismatch = np.flatnonzero((recorded != expected).any(axis=1))
        assert mismatch.size == 0, f"first differing sample frame: {mismatch[:5]}"
        # the REST download is the same file
        async with (
            aiohttp.ClientSession(headers=server.headers) as s,
            s.get(call["recording"]["uri"]) as r,
        ):
            assert r.status == 200
            assert r.headers["Content-Type"] == "audio/wav"
            body = await r.read()
        assert body == (server.data_dir / "recordings" / f"{call['id']}.wav").read_bytes()


async def test_upgrade_query_parameters_are_stored_with_the_call(
    server: Server, tmp_path: Path
) -> None:
    make_stereo_fixture(tmp_path / "f.wav", seconds=1)
    result = simulate(server, "--source", str(tmp_path / "f.wav"), "--speed", "10")
    assert result.returncode == 0, result.stderr
    (call,) = await wait_for_status(server, "completed")
    assert call["upgradeParameters"] == {
        "callId": "sim-1-00001",
        "sessionId": "1",
        "ani": "6505550000",
        "dnis": "6505550900",
        "accountId": "88800010",
        "subaccountId": "88800012",
        "rcAccountId": "70000001",
        "agentId": "5501",
        "productType": "Queue",
        "productId": "4401",
    }
    assert (call["ani"], call["agentId"], call["productId"]) == ("6505550000", "5501", "4401")
    assert (call["accountId"], call["authenticated"]) == ("70000001", True)
    assert call["startMetadata"]["contentType"] == "audio/x-mulaw"
    assert call["stopMetadata"]["duration"] == 1.0
    assert call["startTime"].endswith("Z")
    assert call["endTime"].endswith("Z")
    with wave.open(str(server.data_dir / "recordings" / f"{call['id']}.wav")) as w:
        assert (w.getnchannels(), w.getframerate(), w.getnframes()) == (2, 8000, 8000)


async def test_wrong_content_type_is_refused_with_a_reason_and_nothing_stored(
    server: Server,
) -> None:
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(server.ws + "?callId=x", headers=server.stream_headers) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(
            build_start({"contentType": "audio/L16", "sampleRateHertz": 16000}).decode()
        )
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1003
        assert "audio/x-mulaw at 8000 Hz" in msg.extra
    body = await get_json(server, "/calls")
    assert body["records"] == []
    metrics = await _metrics(server)
    assert 'callscope_streams_refused_total{reason="content_type"} 1' in metrics


async def _metrics(server: Server) -> str:
    async with aiohttp.ClientSession() as s, s.get(server.http + "/metrics") as r:
        assert r.status == 200
        return await r.text()


async def test_sender_that_vanishes_keeps_its_call_and_audio(
    server: Server, tmp_path: Path
) -> None:
    source = make_stereo_fixture(tmp_path / "f.wav", seconds=6)
    result = simulate(server, "--source", str(tmp_path / "f.wav"), "--vanish", "2", "--speed", "4")
    assert result.returncode == 0, result.stderr
    assert "1 vanished" in result.stdout
    (call,) = await wait_for_status(server, "abandoned")
    assert "without Stop" in call["endReason"]
    _, recorded = read_wav(server.data_dir / "recordings" / f"{call['id']}.wav")
    # 2 s were sent (100 frames per perspective) before the cut
    assert len(recorded) == 100 * 160
    assert np.array_equal(recorded, source[: len(recorded)])


async def test_the_close_of_a_completed_call_comes_once_it_is_stored(server: Server) -> None:
    """The server's close 1000 "call complete" is sent once the call is stored as completed:
    a sender that reads it and does not answer it (the close handshake waits up to 2 s for
    the sender's close) finds its call completed already."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(
            server.ws + "?callId=stored&rcAccountId=70000001",
            headers=server.stream_headers,
            autoclose=False,  # the close is read, not answered
        ) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(build_start({"callId": "stored"}).decode())
        for seq in range(1, 11):
            await ws.send_str(build_media(Perspective.PARTICIPANT, seq, b"\x10" * 160).decode())
            await ws.send_str(build_media(Perspective.CONFERENCE, seq, b"\x90" * 160).decode())
        for _ in range(2):  # RingCX: one Stop per perspective
            await ws.send_str(build_stop(0.2, "2026-01-01T00:00:00Z").decode())
        msg = await ws.receive(timeout=20)
        assert (msg.type, msg.data, msg.extra) == (aiohttp.WSMsgType.CLOSE, 1000, "call complete")
        calls = (await get_json(server, "/calls"))["records"]  # before answering the close
        assert [(c["ringcxCallId"], c["status"]) for c in calls] == [("stored", "completed")]
        assert calls[0]["durationMs"] == 200


async def test_silent_sender_is_closed_after_the_idle_timeout(server: Server) -> None:
    ws = await connect(
        server.ws + "?callId=silent&rcAccountId=70000001", headers=server.stream_headers
    )
    ws.send_text(build_connected())
    ws.send_text(build_start({"callId": "silent"}))
    for seq in range(1, 11):
        ws.send_text(build_media(Perspective.PARTICIPANT, seq, b"\x10" * 160))
        ws.send_text(build_media(Perspective.CONFERENCE, seq, b"\x90" * 160))
    await ws.drain()
    # then nothing, with the TCP connection left open: the server must close it (timeout 2 s)
    await asyncio.wait_for(ws.closed.wait(), 15)
    assert ws.close_code == 1001
    assert ws.close_reason == "idle timeout"
    (call,) = await wait_for_status(server, "abandoned")
    assert "silent for 2 s" in call["endReason"]
    assert call["durationMs"] == 200
    assert call["frames"] == {
        "agent": 10,
        "caller": 10,
        "late": 0,
        "duplicate": 0,
        "missing": 0,
        "malformed": 0,
    }
    await ws.close()


async def test_server_killed_mid_call_recovers_a_playable_recording(
    server_factory: type[Server], tmp_path: Path
) -> None:
    source = make_stereo_fixture(tmp_path / "f.wav", seconds=30)
    data = tmp_path / "data"
    srv = server_factory(data, extra_args=["--ingest-checkpoint-interval-s", "0.5"]).start()
    sim = simulate_in_background(srv, tmp_path / "f.wav")
    try:
        live = await wait_for_status(srv, "live")
        recorded = data / "recordings" / f"{live[0]['id']}.wav"
        await until(  # over a second of audio on disk and a checkpoint of both parties' counters
            lambda: (
                recorded.exists()
                and recorded.stat().st_size > 44 + 8000 * 4
                and _checkpointed(data / "callscope.db", live[0]["id"])
            ),
            what="audio on disk and a checkpoint",
        )
        srv.kill()  # SIGKILL: no shutdown code runs
        sim.communicate(timeout=60)
    finally:
        if sim.poll() is None:
            sim.kill()
    wav_path = data / "recordings" / f"{live[0]['id']}.wav"
    written = wav_path.stat().st_size
    assert written > 44 + 8000 * 4, "some audio must have reached the disk before the kill"

    again = server_factory(data, port=srv.port).start()
    (call,) = await wait_for_status(again, "interrupted")
    assert call["id"] == live[0]["id"]
    assert "repaired" in call["endReason"]
    with wave.open(str(wav_path)) as w:  # a playable, standard WAV
        frames = w.getnframes()
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        pcm = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, 2)
    assert frames == (written - 44) // 4
    assert frames >= 8000  # at least a second of audio survived
    assert call["durationMs"] == frames * 1000 // 8000
    assert np.array_equal(pcm, source[:frames])
    # counters from the last checkpoint before the kill survive
    assert 0 < call["frames"]["agent"] <= frames // 160
    assert 0 < call["frames"]["caller"] <= frames // 160
    metrics = await _metrics(again)
    assert 'callscope_calls_total{status="interrupted"} 1' in metrics


def _checkpointed(db: Path, call_id: str) -> bool:
    """Whether a checkpoint stored both parties' frame counters of the live call."""
    with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn:
        row = conn.execute(
            "SELECT frames_agent, frames_caller FROM calls WHERE id = ?", (call_id,)
        ).fetchone()
    return row is not None and row[0] > 0 and row[1] > 0


async def test_graceful_shutdown_closes_live_calls_as_interrupted(
    server_factory: type[Server], tmp_path: Path
) -> None:
    source = make_stereo_fixture(tmp_path / "f.wav", seconds=30)
    data = tmp_path / "data"
    # no drain: SIGTERM ends the call at once (test_lifecycle.py has the drain)
    srv = server_factory(data, extra_args=["--drain-timeout-s", "0"]).start()
    sim = simulate_in_background(srv, tmp_path / "f.wav")
    try:
        (live,) = await wait_for_status(srv, "live")
        recorded = data / "recordings" / f"{live['id']}.wav"
        await until(  # over a second of both parties written before the SIGTERM
            lambda: recorded.exists() and recorded.stat().st_size > 44 + 8000 * 4,
            what="a second of the call on disk",
        )
        assert srv.stop() == 0  # SIGTERM
        sim.communicate(timeout=60)
    finally:
        if sim.poll() is None:
            sim.kill()
    wav_path = data / "recordings" / f"{live['id']}.wav"
    with wave.open(str(wav_path)) as w:  # valid without any repair
        frames = w.getnframes()
        pcm = np.frombuffer(w.readframes(frames), dtype="<i2").reshape(-1, 2)
    assert frames == (wav_path.stat().st_size - 44) // 4
    assert frames >= 8000
    # At SIGTERM the last messages in flight may have reached the server for one party only:
    # the other party's frames there are concealed as silence, never invented. Everything
    # before the last 40 ms is exact; in it, each party's 20 ms is its audio or silence.
    tail = 2 * 160
    assert np.array_equal(pcm[:-tail], source[: frames - tail])
    for start in range(frames - tail, frames, 160):
        for ch in (0, 1):
            got = pcm[start : start + 160, ch]
            assert np.array_equal(got, source[start : start + 160, ch]) or not got.any()
    again = server_factory(data, port=srv.port).start()
    (call,) = await wait_for_status(again, "interrupted")
    assert call["endReason"] == "server shut down mid-call"
    assert call["durationMs"] == frames * 1000 // 8000


async def test_connection_that_never_starts_is_closed_and_stores_nothing(server: Server) -> None:
    ws = await connect(server.ws + "?callId=never", headers=server.stream_headers)
    ws.send_text(build_connected())
    await ws.drain()
    await asyncio.wait_for(ws.closed.wait(), 15)
    assert (ws.close_code, ws.close_reason) == (1001, "idle timeout")
    assert (await get_json(server, "/calls"))["records"] == []
    assert "callscope_ingest_connections 0" in await _metrics(server)
    await ws.close()


async def test_many_calls_starting_at_once_are_all_stored(
    server_factory: type[Server], tmp_path: Path
) -> None:
    # the default idle timeout: one loaded simulator process may pause a sender for a while
    server = server_factory(tmp_path / "data").start()
    make_stereo_fixture(tmp_path / "f.wav", seconds=2)
    result = simulate(server, "--source", str(tmp_path / "f.wav"), "--calls", "300", timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "300 call(s): 300 completed" in result.stdout
    calls = await wait_for_status(server, "completed", 300, timeout=60)
    assert len({c["ringcxCallId"] for c in calls}) == 300
    assert all(c["durationMs"] == 2000 for c in calls)
    assert all(c["frames"]["missing"] == 0 for c in calls)
    assert "database is locked" not in server.log()
