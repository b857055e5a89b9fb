"""RingCX gRPC streaming (spec §11.4) into a real server: over real TLS with a CA made by the
test, the token checked as the streaming profile's secret, dialogs recorded sample for
sample, transfers moving the telephony parties and the supervisor, holds on the timeline,
and a server killed mid-dialog recovering the call."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pytest
import trustme

from callscope.media.wav import read_wav
from callscope.protocols import ringcx_streaming_pb2 as pb
from callscope.sim.plan import load_audio
from callscope.sim.runner import CallResult, Progress, SimOptions, run_call
from tests.conftest import Server, make_stereo_fixture
from tests.helpers.grpc import init, raw_stream, refused_with
from tests.helpers.login import request
from tests.helpers.phone import Phone, extensions, monitoring_group
from tests.helpers.receiver import Receiver, subscribe
from tests.helpers.runner import command
from tests.helpers.wait import until

pytestmark = pytest.mark.slow


def grpc_server(factory: type[Server], data: Path, *extra: str) -> Server:
    """A server with its gRPC listener on another free loopback port (plaintext: loopback)."""
    return factory(data, grpc=True, extra_args=list(extra)).start()


def dialog_options(server: Server, source: Path, **kw: Any) -> SimOptions:
    kw.setdefault("secret", server.stream_secret)
    kw.setdefault("url", server.grpc_url)
    return SimOptions(sources=(source,), transport="grpc", **kw)


async def dialog(opts: SimOptions, index: int = 0) -> CallResult:
    return await run_call(opts, index, load_audio(opts.sources[0]), Progress())


async def calls(server: Server, status: str | None = None, n: int = 1) -> list[dict[str, Any]]:
    """The server's calls (with ``status``), once there are ``n``."""
    path = "/calls" + (f"?status={status}" if status else "")

    async def listed() -> list[dict[str, Any]] | None:
        _, body = await request(server, "GET", path, headers=server.headers)
        return body["records"] if len(body["records"]) >= n else None

    found: list[dict[str, Any]] = []
    for _ in range(300):
        got = await listed()
        if got:
            found = got
            break
        await asyncio.sleep(0.05)
    assert len(found) >= n, found
    return found


async def test_refusals_name_the_right_status_and_store_nothing(
    server_factory: type[Server], tmp_path: Path
) -> None:
    server = grpc_server(server_factory, tmp_path / "data")
    port = server.grpc_port
    secret = server.stream_secret
    assert await refused_with(raw_stream(port, init(), None)) == grpc.StatusCode.UNAUTHENTICATED
    wrong = raw_stream(port, init(), "not-the-secret-x")
    assert await refused_with(wrong) == grpc.StatusCode.UNAUTHENTICATED
    # the right secret, another account named: the dialog is not ours to store
    other = raw_stream(port, init(rc_account="80000001"), secret)
    assert await refused_with(other) == grpc.StatusCode.PERMISSION_DENIED
    # a product the profile does not hold
    product = raw_stream(port, init(product_id="9999"), secret)
    assert await refused_with(product) == grpc.StatusCode.PERMISSION_DENIED
    # media before dialog_init: not the protocol
    media = pb.StreamEvent(
        session_id="s1",
        segment_media=pb.SegmentMediaEvent(
            segment_id="c", audio_content=pb.AudioContent(payload=b"\xff" * 800, seq=1)
        ),
    )
    first = raw_stream(port, [media, *init()], secret)
    assert await refused_with(first) == grpc.StatusCode.INVALID_ARGUMENT
    # a codec callscope does not decode
    opus = init()
    opus[1].segment_start.audio_format.CopyFrom(pb.AudioFormat(codec=pb.OPUS, rate=8000))
    assert await refused_with(raw_stream(port, opus, secret)) == grpc.StatusCode.UNIMPLEMENTED
    _, body = await request(server, "GET", "/calls", headers=server.headers)
    assert body["records"] == []
    assert not list((server.data_dir / "recordings").iterdir())
    _, metrics = await request(server, "GET", "/metrics")
    assert 'callscope_streams_refused_total{reason="secret_missing"} 1' in metrics
    assert 'callscope_streams_refused_total{reason="secret_wrong"} 1' in metrics


async def test_a_dialog_over_tls_is_recorded_sample_for_sample(
    server_factory: type[Server], tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_pem, key_pem, ca_pem = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    ca.cert_pem.write_to_path(str(ca_pem))
    server = grpc_server(
        server_factory,
        tmp_path / "data",
        "--tls-cert",
        str(cert_pem),
        "--tls-key",
        str(key_pem),
    )
    source = tmp_path / "call.wav"
    pcm = make_stereo_fixture(source, seconds=4.0)
    url = server.grpc_url.replace("grpc://", "grpcs://")
    result = await dialog(dialog_options(server, source, url=url, speed=4.0, ca_file=str(ca_pem)))
    assert result.status == "completed", result.detail
    (call,) = await calls(server, "completed")
    assert call["authenticated"] is True
    assert (call["accountId"], call["productId"], call["agentId"]) == ("70000001", "4401", "5501")
    assert call["startMetadata"]["transport"] == "grpc"
    tracks = call["stopMetadata"]["tracks"]
    assert [(t["participantType"], t["side"]) for t in tracks] == [
        ("CONTACT", "caller"),
        ("AGENT", "agent"),
    ]
    _, recorded = read_wav(server.data_dir / "recordings" / f"{call['id']}.wav")
    assert recorded.shape == pcm.shape
    assert np.array_equal(recorded, pcm)
    # plaintext to a TLS listener is not a way in
    plain = raw_stream(server.grpc_port, init(), server.stream_secret)
    assert await refused_with(plain) in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    # a client that does not trust the certificate's CA does not connect
    untrusted = await dialog(dialog_options(server, source, url=url))
    assert untrusted.status == "failed"
    assert "UNAVAILABLE" in untrusted.detail


async def test_a_transfer_moves_parties_and_the_supervisor_and_a_hold_is_kept(
    server_factory: type[Server], tmp_path: Path
) -> None:
    # a hold pauses the whole stream for longer than the idle timeout: it is not idle
    server = grpc_server(server_factory, tmp_path / "data", "--ingest-idle-timeout-s", "2")
    exts = await extensions(server)
    await monitoring_group(
        server, {"101": ["Monitoring"], "102": ["Monitored"], "103": ["Monitored"]}, exts
    )
    source = tmp_path / "call.wav"
    pcm = make_stereo_fixture(source, seconds=12.0)
    receiver = await Receiver().start()
    await subscribe(server, receiver.url, "/restapi/v1.0/account/~/telephony/sessions")
    phone = await Phone(server, server.headers["Authorization"][7:]).connect()
    try:
        task = asyncio.create_task(
            dialog(dialog_options(server, source, transfer_at_s=7.0, hold_at_s=2.0, hold_s=3.0))
        )
        (live,) = await calls(server, "live")
        status, body = await request(
            server,
            "POST",
            f"/restapi/v1.0/account/~/telephony/sessions/{live['telephonySessionId']}/supervise",
            headers=server.headers,
            json={
                "mode": "Listen",
                "supervisorDeviceId": phone.device_id,
                "agentExtensionNumber": "102",
            },
        )
        assert status == 201, body
        moved = await until(lambda: phone.of("StreamTransferred"), what="followed the transfer")
        assert moved[0]["agentExtensionId"] == str(exts["103"]["id"])
        result = await asyncio.wait_for(task, 40)
        assert result.status == "completed", result.detail
        stream = phone.of("StreamStarted")[0]["stream"]
        assert len(phone.audio[stream]) > 300  # 20 ms frames heard on both sides of it
    finally:
        await phone.close()
    # the transfer was pushed: the first agent's party Gone (BlindTransfer), the second's
    # Answered, then the call's end
    sid = (await calls(server, "completed"))[0]["telephonySessionId"]
    await until(
        lambda: any(
            p["status"]["code"] == "Disconnected"
            for n in receiver.telephony(sid)
            for p in n["body"]["parties"]
        ),
        what="the call's Disconnected event",
    )
    await receiver.stop()
    seen = [
        (p.get("extensionId"), p["status"]["code"], p["status"].get("reason"))
        for n in receiver.telephony(sid)
        for p in n["body"]["parties"]
    ]
    first, second = str(exts["102"]["id"]), str(exts["103"]["id"])
    assert (first, "Gone", "BlindTransfer") in seen
    gone = seen.index((first, "Gone", "BlindTransfer"))
    answered = [i for i, (e, c, _) in enumerate(seen) if (e, c) == (second, "Answered")]
    assert answered
    assert gone < answered[0]
    (call,) = await calls(server, "completed")
    sid = call["telephonySessionId"]
    _, session = await request(
        server, "GET", f"/restapi/v1.0/account/~/telephony/sessions/{sid}", headers=server.headers
    )
    agents = [
        (p["extensionId"], p["status"]["code"], p["status"].get("reason"))
        for p in session["parties"]
        if p.get("extensionId") in (str(exts["102"]["id"]), str(exts["103"]["id"]))
    ]
    assert (str(exts["102"]["id"]), "Gone", "BlindTransfer") in agents
    assert (str(exts["103"]["id"]), "Disconnected", "CallFinished") in agents
    tracks = {t["participantId"]: t for t in call["stopMetadata"]["tracks"]}
    # dialog time is audio time; while the stream paused on hold it ran by the clock, so
    # what follows the hold sits off the source's own timing by how late the sender's and
    # the server's timers fired (tens of ms on a loaded machine, either way)
    transfer_ms = tracks["5501"]["stopOffsetMs"]
    assert transfer_ms == tracks["5502"]["startOffsetMs"]
    assert 6800 <= transfer_ms <= 7500
    contact = tracks["contact-0"]
    (held,) = contact["held"]
    assert held["fromMs"] == 2000
    # the sender pauses 3 s between its hold and unhold; the server times the hold from
    # reading one to reading the other (the wire carries no timestamps), so either read
    # running late on a loaded machine moves the length by that much (the timers' phase no
    # longer does: tests/unit/test_ringcx_grpc.py pins that down exactly)
    assert 2950 <= held["toMs"] - held["fromMs"] <= 3500
    assert contact["counters"]["missing"] == 0  # silence on hold is by design
    assert contact["counters"]["hold_silence_ms"] >= 2950
    assert call["status"] == "completed"  # not closed as idle during the hold
    events = [e["event"] for e in call["stopMetadata"]["timeline"]]
    assert events.count("SegmentHeld") == events.count("SegmentResumed") == 1
    # the recording: exact before the hold, silence while on hold (the stream paused), and
    # after it the source again (both agents left, the caller right), shifted by the pause
    _, recorded = read_wav(server.data_dir / "recordings" / f"{call['id']}.wav")
    assert np.array_equal(recorded[: 2 * 8000], pcm[: 2 * 8000])
    assert not recorded[2 * 8000 + 800 : 5 * 8000 - 800].any()
    shift = (held["toMs"] - held["fromMs"] - 3000) * 8
    after = slice(5 * 8000 + 800, 11 * 8000)
    moved_by = slice(after.start + shift, after.stop + shift)
    assert np.array_equal(recorded[moved_by], pcm[after])


async def test_a_server_killed_mid_dialog_recovers_the_call(
    server_factory: type[Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    server = grpc_server(server_factory, data)
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=30.0)
    port = server.grpc_port
    sender = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callscope",
            "simulate",
            "--quiet",
            "--transport",
            "grpc",
            "--url",
            f"grpc://127.0.0.1:{port}",
            "--credentials",
            str(data / "demo-credentials.json"),
            "--source",
            str(source),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await calls(server, "live")
        await asyncio.sleep(2.0)  # some audio on disk
        server.kill()
    finally:
        sender.kill()
        sender.wait(10)
    again = server_factory(data, port=server.port, grpc=True, grpc_port=port).start()
    (call,) = await calls(again, "interrupted")
    assert "recording repaired" in call["endReason"]
    assert call["durationMs"] > 1000
    _, recorded = read_wav(data / "recordings" / f"{call['id']}.wav")
    assert len(recorded) * 1000 // 8000 == call["durationMs"]


def test_tls_settings_are_checked_before_anything_listens(tmp_path: Path) -> None:
    def serve(*args: str) -> subprocess.CompletedProcess[str]:
        return command("serve", "--data-dir", str(tmp_path), *args, timeout=60)

    # plaintext gRPC on an address others reach: refused, RingCX needs TLS
    open_grpc = serve("--host", "0.0.0.0", "--grpc-port", "10443")
    assert open_grpc.returncode == 2
    assert "tls_cert" in open_grpc.stderr
    half = serve("--grpc-port", "10443", "--tls-cert", str(tmp_path / "c.pem"))
    assert half.returncode == 2
    assert "tls_key" in half.stderr
    missing = serve(
        "--grpc-port",
        "10443",
        "--tls-cert",
        str(tmp_path / "nope.pem"),
        "--tls-key",
        str(tmp_path / "nope.key"),
    )
    assert missing.returncode == 2
    assert "cannot be read" in missing.stderr


def test_the_http_listener_serves_tls_when_asked(
    server_factory: type[Server], tmp_path: Path
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert_pem, key_pem = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_pem))
    cert.private_key_pem.write_to_path(str(key_pem))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    server = server_factory(
        tmp_path / "data",
        extra_args=["--tls-cert", str(cert_pem), "--tls-key", str(key_pem), "--http-tls"],
        https=context,
    ).start()  # its /health answered over TLS, with the certificate the CA signed
    assert server.http.startswith("https://")
    with pytest.raises(ConnectionResetError):  # plain HTTP: the TLS listener hangs up
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/health", timeout=5)
    with pytest.raises(urllib.error.URLError):  # nor does a client that does not trust it
        urllib.request.urlopen(server.http + "/health", timeout=5)


async def test_each_participant_is_transcribed_on_its_own_and_named_in_the_insights(
    server_factory: type[Server], tmp_path: Path
) -> None:
    from callscope.sim.runner import default_source

    server = server_factory(tmp_path / "data", grpc=True, asr=True).start()
    # the first 25 s of the bundled call: its agent's greeting (the first 6 s of the left
    # channel) is spoken by an IVR bot segment, the agent's segment starts after it (the
    # agent speaks again from 14.9 s, the customer from 6.9 s)
    opts = dialog_options(server, default_source(), speed=8.0, bot_s=6.0, max_frames=1250)
    result = await dialog(opts)
    assert result.status == "completed", result.detail
    (call,) = await calls(server, "completed")

    async def transcript() -> dict[str, Any] | None:
        _, body = await request(
            server, "GET", f"/calls/{call['id']}/transcript", headers=server.headers
        )
        return body if body["status"] == "complete" else None

    body: dict[str, Any] | None = None
    for _ in range(600):
        body = await transcript()
        if body:
            break
        await asyncio.sleep(0.1)
    assert body is not None, "the transcript did not complete"
    lines = body["utterances"]
    by_speaker = {u["speaker"] for u in lines}
    assert by_speaker == {"bot", "agent", "customer"}
    bot = [u for u in lines if u["speaker"] == "bot"]
    assert "thank you for calling" in bot[0]["text"].lower()
    assert all(u["endMs"] <= 6500 for u in bot)
    assert all(u["startMs"] >= 5500 for u in lines if u["speaker"] == "agent")
    bot_party = bot[0]["partyId"]
    assert bot_party.endswith("-x-ivr")
    # the insights document names every participant who spoke, the bot included
    path = f"/ai/ringsense/v1/public/accounts/~/domains/pbx/records/{call['id']}/insights"
    doc: dict[str, Any] = {}
    for _ in range(600):
        status, doc = await request(server, "GET", path, headers=server.headers)
        if status == 200:
            break
        await asyncio.sleep(0.1)
    speakers = {s["speakerId"]: s for s in doc["speakerInfo"]}
    assert speakers[bot_party]["participantType"] == "BOT"
    assert speakers[bot_party]["name"] == "Virtual agent"
    spoken = {t["speakerId"] for t in doc["insights"]["Transcript"]}
    assert bot_party in spoken
    assert spoken <= set(speakers)
