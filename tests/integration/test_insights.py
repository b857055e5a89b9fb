"""Post-call insights end to end: calls streamed by the simulator into a real server, the
RingSense document made after the call, pushed to a WebHook subscription and read by REST;
permission and licence refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, make_stereo_fixture
from tests.helpers.insights import INSIGHTS, document
from tests.helpers.login import Login, admin_cli, assert_rc_error, request
from tests.helpers.receiver import Receiver, subscribe
from tests.helpers.runner import run_calls, start_simulate
from tests.helpers.wait import until

pytestmark = pytest.mark.slow

FILTER = "/ai/ringsense/v1/public/accounts/~/domains/pbx/insights"
REQUIRED = (
    "title", "domain", "sourceRecordId", "sourceSessionId", "callDirection", "ownerExtensionId",
    "recordingDurationMs", "recordingStartTime", "creationTime", "lastModifiedTime",
    "speakerInfo", "insights",
)  # fmt: skip


async def ended_call(server: Server, agent_id: str) -> dict[str, Any]:
    for _ in range(200):
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        done = [c for c in calls["records"] if c["agentId"] == agent_id and c["status"] != "live"]
        if done:
            return done[0]  # type: ignore[no-any-return]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no ended call of agent {agent_id}")


def check_shape(doc: dict[str, Any]) -> None:
    for key in REQUIRED:
        assert key in doc, key
    assert doc["domain"] == "pbx"
    speakers = {s["speakerId"] for s in doc["speakerInfo"]}
    for key in ("Transcript", "Summary", "Highlights", "NextSteps", "Sentiment"):
        assert isinstance(doc["insights"][key], list), key
    for item in doc["insights"]["Transcript"]:
        assert item["speakerId"] in speakers
        assert 0 <= item["start"] <= item["end"]
        assert item["text"]
    for item in doc["insights"]["NextSteps"] + doc["insights"]["Highlights"]:
        assert item["speakerId"] in speakers
        assert item["value"]
    assert doc["insights"]["Summary"][0]["value"]
    assert doc["insights"]["Sentiment"][0]["value"] in ("Positive", "Negative", "Neutral")


async def test_licence_permission_and_documents_without_a_transcript(
    server: Server, tmp_path: Path
) -> None:
    """Transcription off: the document still comes (metrics, no next steps); an agent without
    the licence gets none (403 says why); a non-admin may not read; bad input is named."""
    creds = server.credentials()
    admin_cli(
        server.data_dir,
        *("extension", "--account", creds["accountId"], "--number", "109"),
        *("--first-name", "Una", "--last-name", "Licensed", "--agent-id", "5509"),
    )
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=2.0)
    receiver = await Receiver().start()
    try:
        await subscribe(server, receiver.url, FILTER)
        await run_calls(server, "--source", str(source), "--speed", "4", timeout_s=120)
        call = await ended_call(server, "5501")
        doc = await document(server, call["id"])
        check_shape(doc)
        assert doc["sourceRecordId"] == call["id"]
        assert doc["sourceSessionId"] == f"s-{call['id']}"
        assert doc["callDirection"] == "Inbound"
        assert doc["insights"]["Transcript"] == []
        assert doc["insights"]["NextSteps"] == []
        assert abs(doc["recordingDurationMs"] - 2000) <= 40
        _, users = await request(
            server, "GET", "/restapi/v1.0/account/~/extension", headers=server.headers
        )
        agent = next(u for u in users["records"] if u["extensionNumber"] == "102")
        assert doc["ownerExtensionId"] == str(agent["id"])
        speakers = {s["extensionId"]: s for s in doc["speakerInfo"]}
        assert speakers[str(agent["id"])]["name"] == "Alex Agent"
        assert speakers[None]["phoneNumber"]  # the customer: an outsider, no ids
        for _ in range(100):
            if receiver.notifications:
                break
            await asyncio.sleep(0.1)
        (note,) = receiver.notifications
        assert note["event"] == FILTER.replace("~", creds["accountId"])
        assert note["body"]["eventType"] == "Create"
        assert {k: v for k, v in note["body"].items() if k != "eventType"} == doc
        # Only the asked-for insight types.
        status, only = await request(
            server,
            "GET",
            f"{INSIGHTS}/records/{call['id']}/insights?insightTypes=Summary",
            headers=server.headers,
        )
        assert status == 200
        assert set(only["insights"]) == {"Summary"}
        status, err = await request(
            server,
            "GET",
            f"{INSIGHTS}/records/{call['id']}/insights?insightTypes=Gossip",
            headers=server.headers,
        )
        assert_rc_error(err, 400, status, "CMN-101")
        status, session = await request(
            server, "GET", f"{INSIGHTS}/sessions/s-{call['id']}/insights", headers=server.headers
        )
        assert status == 200
        assert session["records"] == [doc]

        # An agent without the licence: no document, and the refusal says why.
        await run_calls(
            server, "--source", str(source), "--speed", "4", "--agent-id", "5509", timeout_s=120
        )
        unlicensed = await ended_call(server, "5509")
        for _ in range(100):
            status, err = await request(
                server,
                "GET",
                f"{INSIGHTS}/records/{unlicensed['id']}/insights",
                headers=server.headers,
            )
            if status != 404:
                break
            await asyncio.sleep(0.1)
        assert_rc_error(err, 403, status, "CMN-408")
        assert "licence" in err["message"]
        assert len(receiver.notifications) == 1  # and no event

        # Permission, unknown ids, bad domain.
        agent_login = Login(
            server, creds["clientId"], creds["clientSecret"], "alex@demo.callscope.test",
            creds["password"],
        )  # fmt: skip
        status, err = await request(
            server,
            "GET",
            f"{INSIGHTS}/records/{call['id']}/insights",
            headers=await agent_login.headers(),
        )
        assert_rc_error(err, 403, status, "CMN-408")
        status, err = await request(
            server, "GET", f"{INSIGHTS}/records/nope/insights", headers=server.headers
        )
        assert_rc_error(err, 404, status, "CMN-102")
        status, err = await request(
            server,
            "GET",
            f"/ai/ringsense/v1/public/accounts/~/domains/zoom/records/{call['id']}/insights",
            headers=server.headers,
        )
        assert_rc_error(err, 400, status, "CMN-101")
    finally:
        await receiver.stop()


async def test_the_bundled_call_transcribed_live_gets_its_next_steps(
    server_factory: type[Server], tmp_path: Path
) -> None:
    """ASR on: the document's transcript, speakers, next steps and summary come from the
    live transcript of the call."""
    server = server_factory(tmp_path / "data", asr=True).start(timeout_s=120)
    await run_calls(server, "--speed", "4", timeout_s=120)
    call = await ended_call(server, "5501")
    doc = await document(server, call["id"], timeout_s=120)
    check_shape(doc)
    agent_party, customer_party = f"p-{call['id']}-2", f"p-{call['id']}-1"
    transcript = doc["insights"]["Transcript"]
    assert {t["speakerId"] for t in transcript} == {agent_party, customer_party}
    assert "northwind" in transcript[0]["text"].lower()
    steps = doc["insights"]["NextSteps"]
    assert all(s["speakerId"] == agent_party for s in steps)
    text = " ".join(s["value"].lower() for s in steps)
    # The three things the agent promised (ASR may garble a word of each).
    assert "text message" in text
    assert "note to the customer's account" in text
    assert "email the customer instructions" in text
    assert len(steps) == 3
    summary = doc["insights"]["Summary"][0]["value"]
    # The problem turn ("... locked out of their online account"): live ASR packs queued
    # segments into one decode, so under load it has also heard "locked down" and "Lock,
    # count of their online account"; the account is what every hearing kept.
    assert summary.startswith("The customer reported that")
    assert "online account" in summary.split(". Agreed")[0]
    # The summary lists the agreed steps as the document's NextSteps word for word, the reset
    # link by text message first. Under load ASR hears a word of that turn differently from run
    # to run ("reset link" as "resettling"), so the step is known by the words every hearing
    # kept: the password, sent by text message.
    listed = "; ".join(s["value"].rstrip(".") for s in steps)
    assert f"Agreed next steps: {listed}." in summary, (summary, steps)
    first = steps[0]["value"].lower()
    assert "password" in first, steps
    assert "text message" in first, steps
    # the highlights point at their utterances
    kinds = {h["value"]: h for h in doc["insights"]["Highlights"]}
    assert any("online account" in v for v in kinds)
    starts = {t["start"] for t in transcript}
    assert all(h["start"] in starts for h in doc["insights"]["Highlights"])
    assert doc["insights"]["Compliance"][0]["recordingDisclosure"] is False
    metrics = doc["insights"]["CallMetrics"][0]
    assert metrics["talkRatio"]["agent"] > metrics["talkRatio"]["customer"]


async def test_retention_purges_old_insights_and_recordings(
    server_factory: type[Server], tmp_path: Path
) -> None:
    # A period of 8 s, swept every half second: long enough to see the call's insights and
    # recording before they go, on a loaded machine too
    server = server_factory(
        tmp_path / "data",
        extra_args=["--retention-days", str(8 / 86400), "--retention-sweep-s", "0.5"],
    ).start()
    source = tmp_path / "call.wav"
    make_stereo_fixture(source, seconds=1.0)
    await run_calls(server, "--source", str(source), "--speed", "4", timeout_s=120)
    call = await ended_call(server, "5501")
    doc = await document(server, call["id"], timeout_s=10)
    assert doc["sourceRecordId"] == call["id"]
    wav = server.data_dir / "recordings" / f"{call['id']}.wav"
    assert wav.is_file()
    status, _ = await request(
        server, "GET", f"/calls/{call['id']}/recording", headers=server.headers
    )
    assert status == 200
    for _ in range(400):  # the period passes, the sweep runs
        status, err = await request(
            server, "GET", f"{INSIGHTS}/records/{call['id']}/insights", headers=server.headers
        )
        if status == 404 and not wav.exists():
            break
        await asyncio.sleep(0.1)
    assert_rc_error(err, 404, status, "CMN-102")
    assert not wav.exists()
    status, err = await request(
        server, "GET", f"/calls/{call['id']}/recording", headers=server.headers
    )
    assert status == 410, err
    assert "retention" in err["message"]
    # The call itself stays, saying when its recording went.
    status, kept = await request(server, "GET", f"/calls/{call['id']}", headers=server.headers)
    assert status == 200
    assert kept["recording"]["purgedAt"] is not None


async def test_insights_survive_a_server_killed_mid_call(
    server_factory: type[Server], tmp_path: Path
) -> None:
    """SIGKILL mid-call: on restart the call is recovered (interrupted), its transcript is
    re-made from the recording, and its insights job — queued at start-up for ended calls
    that have none — makes the document."""
    server = server_factory(tmp_path / "data", asr=True).start(timeout_s=120)
    sim = start_simulate(server, "--max-frames", "1500", "--speed", "2")
    try:
        for _ in range(200):
            _, calls = await request(server, "GET", "/calls?status=live", headers=server.headers)
            if calls["records"]:
                break
            await asyncio.sleep(0.05)
        call_id = calls["records"][0]["id"]
        recording = server.data_dir / "recordings" / f"{call_id}.wav"
        await until(  # the greeting and the customer's problem are in: 8 s of 16-bit stereo
            lambda: recording.exists() and recording.stat().st_size >= 44 + 8 * 8000 * 4,
            timeout=60,
            what="8 s of the call on disk",
        )
        server.kill()
    finally:
        sim.kill()
        await sim.ended()
    server.start(timeout_s=120)
    doc = await document(server, call_id, timeout_s=120)
    check_shape(doc)
    _, call = await request(server, "GET", f"/calls/{call_id}", headers=server.headers)
    assert call["status"] == "interrupted"
    assert doc["sourceRecordId"] == call_id
    assert 7000 <= doc["recordingDurationMs"] <= 10_000
    assert "northwind" in doc["insights"]["Transcript"][0]["text"].lower()
