"""Sequence ids cannot fill the disk: the jump attack against a real server.

Each Media message costs the sender ~200 bytes; without bounds, a sequenceId far ahead made
the server write the whole gap as silence (≈ 1 MB of WAV per message).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from callscope.protocols.ringcx import (
    PERSPECTIVES,
    build_connected,
    build_media,
    build_start,
    build_stop,
)
from tests.conftest import Server
from tests.security.ingest_helpers import DEMO_PRODUCT, ingest_server, wait_for_call

pytestmark = pytest.mark.slow

#: one second of stereo 16-bit 8 kHz WAV
WAV_BYTES_PER_S = 2 * 2 * 8000


async def _send_all(ws: aiohttp.ClientWebSocketResponse, messages: list[bytes]) -> int:
    """Send until the server closes; how many went out."""
    sent = 0
    for m in messages:
        try:
            await ws.send_str(m.decode())
        except ConnectionResetError:  # the server closed the stream: the attack is over
            break
        sent += 1
    return sent


def _wav_bytes(server: Server, call: dict[str, object]) -> int:
    return (server.data_dir / "recordings" / f"{call['id']}.wav").stat().st_size


@pytest.mark.parametrize("step", [2_990, 1_000_000])
async def test_jumping_every_message_writes_no_silence(
    server_factory: type[Server], tmp_path: Path, step: int
) -> None:
    # 2 990 ids (60 s) was just under the old refusal threshold: 200 such messages per side
    # made a 380 MB recording.
    server = ingest_server(server_factory, tmp_path)
    attack = [
        build_media(PERSPECTIVES[i % 2], 1 + (i // 2) * step, b"\x10" * 160) for i in range(400)
    ]
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(
            server.ws + f"?callId=jumps&rcAccountId=70000001&{DEMO_PRODUCT}",
            headers=server.stream_headers,
        ) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(build_start({"callId": "jumps"}).decode())
        assert await _send_all(ws, attack) == len(attack)
        for _ in PERSPECTIVES:  # RingCX: one Stop per perspective
            await ws.send_str(build_stop(8.0, "2026-01-01T00:00:08Z").decode())
        msg = await ws.receive(timeout=20)
        assert msg.type == aiohttp.WSMsgType.CLOSE
    call = await wait_for_call(server, "completed")
    assert _wav_bytes(server, call) < 4096
    # one frame per perspective was taken; every other message was a refused jump
    assert call["frames"]["malformed"] == 398
    assert call["frames"]["missing"] == 0
    assert server.log().count("malformed message (sequence_jump)") == 1


async def test_confirmed_jumps_end_the_call_once_silence_outruns_the_audio(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = ingest_server(server_factory, tmp_path)
    # Pairs of agreeing frames, each pair a million ids on: every pair re-anchors the stream
    # and asks for a gap's worth (5 s) of silence on both sides. 200 pairs asked for 1000 s.
    attack = [
        build_media(p, base + k, b"\x10" * 160)
        for base in range(1_000_000, 201_000_000, 1_000_000)
        for k in (0, 1)
        for p in PERSPECTIVES
    ]
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(
            server.ws + f"?callId=pairs&rcAccountId=70000001&{DEMO_PRODUCT}",
            headers=server.stream_headers,
        ) as ws,
    ):
        await ws.send_str(build_connected().decode())
        await ws.send_str(build_start({"callId": "pairs"}).decode())
        await _send_all(ws, attack)
        while not ws.closed:
            msg = await ws.receive(timeout=20)
        assert ws.close_code == 1008
        assert msg.extra == "too much silence concealed"
    call = await wait_for_call(server, "abandoned")
    assert "of silence" in call["endReason"]
    assert "stream closed" in call["endReason"]
    # Bounded by 10 s of slack, one gap (5 s) and skew, plus the little audio received and
    # the time streamed: far below the 1000 s asked for (32 MB).
    assert _wav_bytes(server, call) < 60 * WAV_BYTES_PER_S
    assert server.log().count("stream re-anchored there") == 1
