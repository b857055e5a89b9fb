"""The insights text path: ``POST …/insights:analyze`` on a real server (JSON and WebVTT
bodies, admins only, RingCentral error bodies for bad input) and ``callscope insights FILE``
(JSON, WebVTT, a WAV transcribed first)."""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from callscope.api.transcripts import webvtt
from callscope.sim.runner import default_source
from tests.conftest import Server
from tests.helpers.login import Login, assert_rc_error, request
from tests.helpers.runner import command

pytestmark = pytest.mark.slow

ANALYZE = "/ai/ringsense/v1/public/accounts/~/domains/pbx/insights:analyze"

UTTERANCES = [
    {"seq": 1, "speaker": "agent", "partyId": "p-a", "startMs": 500, "endMs": 3000,
     "text": "Thanks for calling Cloudnote, this is Ben."},
    {"seq": 2, "speaker": "customer", "partyId": "p-c", "startMs": 3500, "endMs": 8000,
     "text": "We were billed twice this month, $49 two times, for the team plan."},
    {"seq": 3, "speaker": "agent", "partyId": "p-a", "startMs": 8500, "endMs": 14000,
     "text": "I've refunded the duplicate charge of $49, it'll take 3 to 5 business days."},
    {"seq": 4, "speaker": "agent", "partyId": "p-a", "startMs": 14500, "endMs": 19000,
     "text": "I'm escalating the invoice error to our billing engineers under ticket 58210."},
    {"seq": 5, "speaker": "agent", "partyId": "p-a", "startMs": 19500, "endMs": 22000,
     "text": "They'll email you once the fix is deployed."},
    {"seq": 6, "speaker": "customer", "partyId": "p-c", "startMs": 22500, "endMs": 25000,
     "text": "Okay. I'll forward you the invoice after this call."},
]  # fmt: skip


def check(doc: dict[str, Any], party: str = "partyId") -> None:
    """The document of the UTTERANCES call, whichever way it came."""
    agent = "p-a" if party == "partyId" else "agent"
    customer = "p-c" if party == "partyId" else "customer"
    insights = doc["insights"]
    assert [t["text"] for t in insights["Transcript"]] == [u["text"] for u in UTTERANCES]
    assert [(s["speakerId"], s["value"]) for s in insights["NextSteps"]] == [
        (agent, "Refund the duplicate charge of $49, it'll take 3 to 5 business days."),
        (agent, "Escalate the invoice error to the billing engineers under ticket 58210."),
        (agent, "Billing engineers to email the customer once the fix is deployed."),
        (customer, "Customer to forward the agent the invoice after the call."),
    ]
    summary = insights["Summary"][0]["value"]
    assert summary.startswith("The customer reported that they were billed twice this month")
    for fact in ("$49", "ticket 58210", "3 to 5 business days", "billing engineers"):
        assert fact in summary
    problem = insights["Highlights"][0]
    assert (problem["speakerId"], problem["start"]) == (customer, 3.5)
    assert {s["speakerId"] for s in doc["speakerInfo"]} == {agent, customer}


async def test_analyze_over_rest_json_and_webvtt(server: Server) -> None:
    status, doc = await request(
        server, "POST", ANALYZE, json={"utterances": UTTERANCES}, headers=server.headers
    )
    assert status == 200, doc
    check(doc)
    assert doc["sourceRecordId"] is None
    vtt = webvtt(UTTERANCES)
    status, doc = await request(
        server,
        "POST",
        ANALYZE,
        data=vtt.encode(),
        headers={**server.headers, "Content-Type": "text/vtt"},
    )
    assert status == 200, doc
    check(doc, party="speaker")


async def test_analyze_refusals(server: Server) -> None:
    def post(body: bytes, ctype: str = "application/json") -> Any:
        headers = {**server.headers, "Content-Type": ctype}
        return request(server, "POST", ANALYZE, data=io.BytesIO(body), headers=headers)

    status, err = await post(b"{")
    assert_rc_error(err, 400, status, "CMN-101")
    assert "JSON can't be parsed" in err["message"]
    status, err = await post(json.dumps({"utterances": [{"text": "hi"}]}).encode())
    assert_rc_error(err, 400, status, "CMN-101")
    assert "utterances[0] needs text and speaker" in err["message"]
    status, err = await post(json.dumps({"utterances": []}).encode())
    assert_rc_error(err, 400, status, "CMN-101")
    status, err = await post(b"not vtt", "text/vtt")
    assert_rc_error(err, 400, status, "CMN-101")
    assert "WEBVTT" in err["message"]
    status, err = await post(b"hello", "text/plain")
    assert_rc_error(err, 415, status, "CMN-415")
    status, err = await post(b"x" * (2 * 1024 * 1024 + 1))
    assert_rc_error(err, 413, status, "CMN-101")
    # authenticated and an admin, of this account
    status, err = await request(server, "POST", ANALYZE, json={"utterances": UTTERANCES})
    assert status == 401, err
    creds = server.credentials()
    agent = Login(
        server, creds["clientId"], creds["clientSecret"], "alex@demo.callscope.test",
        creds["password"],
    )  # fmt: skip
    status, err = await request(
        server, "POST", ANALYZE, json={"utterances": UTTERANCES}, headers=await agent.headers()
    )
    assert_rc_error(err, 403, status, "CMN-408")
    status, err = await request(
        server,
        "POST",
        ANALYZE.replace("/~/", "/99999999/"),
        json={"utterances": UTTERANCES},
        headers=server.headers,
    )
    assert_rc_error(err, 404, status, "CMN-102")


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`callscope insights ARGS`, forked like the servers (tests/helpers/runner.py)."""
    return command("insights", *args, timeout=600)


def test_cli_json_webvtt_and_bad_files(tmp_path: Path) -> None:
    transcript = tmp_path / "call.json"
    transcript.write_text(json.dumps({"utterances": UTTERANCES}))
    out = cli(str(transcript))
    assert out.returncode == 0, out.stderr
    check(json.loads(out.stdout))
    vtt = tmp_path / "call.vtt"
    vtt.write_text(webvtt(UTTERANCES))
    out = cli(str(vtt), "--no-embeddings")
    assert out.returncode == 0, out.stderr
    check(json.loads(out.stdout), party="speaker")
    bad = tmp_path / "bad.json"
    bad.write_text('{"utterances": 3}')
    out = cli(str(bad))
    assert out.returncode == 2
    assert "bad.json: the JSON has no utterances array" in out.stderr
    out = cli(str(tmp_path / "missing.json"))
    assert out.returncode == 2
    assert "missing.json" in out.stderr


def test_cli_transcribes_a_wav_first() -> None:
    out = cli(str(default_source()))  # the demo call the package ships
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert "northwind" in doc["insights"]["Transcript"][0]["text"].lower()
    assert {s["speakerId"] for s in doc["speakerInfo"]} == {"agent", "customer"}
    steps = " ".join(s["value"] for s in doc["insights"]["NextSteps"])
    assert "text message" in steps
    summary = doc["insights"]["Summary"][0]["value"]
    assert summary.startswith("The customer reported that")
    assert "password" in summary
