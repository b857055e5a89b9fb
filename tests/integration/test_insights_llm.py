"""The optional LLM backend against a small OpenAI-compatible stub server on 127.0.0.1 (it
stands in for a model we cannot run here): valid answers, an invalid one repaired, invalid
twice, a slow endpoint past the deadline, HTTP errors — and the document built from it."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from callscope.insights.analyzers import Utterance, analyze
from callscope.insights.llm import LlmClient, parse_answer
from callscope.insights.service import build_document
from callscope.store.models import Call, Extension, Party, TelephonySession
from tests.conftest import Server, free_port, serve_local
from tests.helpers.insights import document
from tests.helpers.login import request
from tests.helpers.runner import run_calls

CALL = [
    Utterance(0, "agent", "p-c1-2", 0.5, 3.0, "Thanks for calling, how can I help?"),
    Utterance(1, "customer", "p-c1-1", 3.5, 7.0, "My router keeps dropping the connection."),
    Utterance(2, "agent", "p-c1-2", 7.5, 12.0, "I will ship you a new router tomorrow."),
]
VALID = {
    "summary": "The customer's router kept dropping; the agent is shipping a replacement.",
    "highlights": [{"utterance": 1, "text": "Router keeps dropping the connection"}],
    "nextSteps": [{"utterance": 2, "text": "Ship the customer a new router tomorrow"}],
}


class Stub:
    """Answers /v1/chat/completions from a script of replies (JSON text, a status, or a
    delay), recording each request."""

    def __init__(self, replies: list[Any]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, int):
            return web.Response(status=reply, text="overloaded")
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            reply = json.dumps(VALID)
        body = {"choices": [{"index": 0, "message": {"role": "assistant", "content": reply}}]}
        return web.json_response(body)

    async def __aenter__(self) -> Stub:
        self.runner = await serve_local(self.port, web.post("/v1/chat/completions", self.handle))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def client(self, deadline_s: float = 10.0) -> LlmClient:
        return LlmClient(
            f"http://127.0.0.1:{self.port}", "stub-model", "k-123", deadline_s=deadline_s
        )


async def test_a_valid_answer_is_mapped_to_speakers_and_times() -> None:
    async with Stub([json.dumps(VALID)]) as stub:
        result, error, attempts = await stub.client().insights(CALL)
    assert error is None
    assert attempts == 1
    assert result is not None
    assert result.summary.startswith("The customer's router")
    ((u, text),) = result.next_steps
    assert (u.party_id, u.start, u.end, text) == (
        "p-c1-2",
        7.5,
        12.0,
        VALID["nextSteps"][0]["text"],
    )
    (request,) = stub.requests
    assert request["model"] == "stub-model"
    assert request["temperature"] == 0
    assert "[2] agent: I will ship you a new router tomorrow." in request["messages"][1]["content"]
    assert stub.headers[0]["Authorization"] == "Bearer k-123"


@pytest.mark.parametrize(
    "first",
    [
        "Sure! Here are the insights.",  # not JSON
        json.dumps({**VALID, "nextSteps": [{"utterance": 99, "text": "Invented"}]}),
        json.dumps({**VALID, "summary": ""}),
        json.dumps([VALID]),
    ],
)
async def test_an_invalid_answer_is_repaired_once(first: str) -> None:
    async with Stub([first, json.dumps(VALID)]) as stub:
        result, error, attempts = await stub.client().insights(CALL)
    assert error is None
    assert attempts == 2
    assert result is not None
    repair = stub.requests[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": first}
    assert repair[-1]["content"].startswith("That answer is invalid:")


async def test_invalid_twice_slow_or_failing_leaves_the_offline_result() -> None:
    bad = json.dumps({**VALID, "highlights": [{"utterance": "one", "text": "x"}]})
    async with Stub([bad, bad]) as stub:
        result, error, attempts = await stub.client().insights(CALL)
    assert result is None
    assert attempts == 2
    assert error is not None
    assert "invalid answer after a repair" in error
    assert "does not exist" in error
    async with Stub([5.0]) as stub:
        result, error, _ = await stub.client(deadline_s=0.5).insights(CALL)
    assert result is None
    assert error == "no valid answer within the 0.5 s deadline"
    async with Stub([503]) as stub:
        result, error, _ = await stub.client().insights(CALL)
    assert result is None
    assert error is not None
    assert "HTTP 503" in error
    # Nothing listens there at all.
    result, error, _ = await LlmClient(f"http://127.0.0.1:{free_port()}", "m").insights(CALL)
    assert result is None
    assert error is not None


def test_fenced_answers_and_the_document_built_from_the_model() -> None:
    parsed = parse_answer("```json\n" + json.dumps(VALID) + "\n```", CALL)
    now = datetime(2026, 11, 21, tzinfo=UTC)
    call = Call(id="c1", ani="+16505550100", duration_ms=12_000, started_at=now)
    session = TelephonySession(id="s-c1", direction="Inbound")
    owner = Extension(id=71, first_name="Alex", last_name="Agent", insights_licence=True)
    parties = [
        Party(id="p-c1-1", role="customer", extension_id=None, account_id=None, status_code="Disconnected"),
        Party(id="p-c1-2", role="agent", extension_id=71, account_id="7", to_name="Alex Agent", status_code="Disconnected"),
    ]  # fmt: skip
    analysis = analyze(CALL, 12.0)
    offline = build_document(call, session, parties, {71: owner}, CALL, analysis, owner, now)
    assert offline["callscopeAnalysis"] == {"engine": "offline"}
    assert [s["value"] for s in offline["insights"]["NextSteps"]] == [
        "Ship the customer a new router tomorrow."
    ]
    doc = build_document(
        call,
        session,
        parties,
        {71: owner},
        CALL,
        analysis,
        owner,
        now,
        llm=parsed,
        engine={"engine": "llm", "model": "stub-model"},
    )
    assert doc["insights"]["Summary"][0] == {"value": VALID["summary"], "start": 0.0, "end": 12.0}
    assert doc["insights"]["NextSteps"] == [
        {"speakerId": "p-c1-2", "value": VALID["nextSteps"][0]["text"], "start": 7.5, "end": 12.0}
    ]
    assert doc["insights"]["Highlights"][0]["speakerId"] == "p-c1-1"
    # What the model cannot change: the transcript, speakers, metrics.
    assert doc["insights"]["Transcript"] == offline["insights"]["Transcript"]
    assert doc["speakerInfo"] == offline["speakerInfo"]
    assert doc["title"] == "Call from +16505550100 to Alex Agent"
    assert orjson.loads(orjson.dumps(doc)) == doc  # plain JSON throughout


async def test_a_server_with_an_llm_endpoint_uses_it_for_a_real_call(
    server_factory: type[Server], tmp_path: Path
) -> None:
    """The whole path: a live-transcribed call, the model's answer (citing the transcript's
    own utterance ids) in the document, the key sent but never logged."""
    seen: list[dict[str, Any]] = []
    headers: list[str] = []

    async def complete(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append(body)
        headers.append(request.headers.get("Authorization", ""))
        lines = body["messages"][1]["content"].splitlines()
        cited = next(int(line[1 : line.index("]")]) for line in lines if " will " in line.lower())
        answer = {
            "summary": "From the model: a password reset.",
            "highlights": [],
            "nextSteps": [{"utterance": cited, "text": "From the model: send the reset link"}],
        }
        message = {"role": "assistant", "content": json.dumps(answer)}
        return web.json_response({"choices": [{"index": 0, "message": message}]})

    port = free_port()
    runner = await serve_local(port, web.post("/v1/chat/completions", complete))
    key = "sk-never-logged-4242"
    try:
        server = server_factory(
            tmp_path / "data",
            asr=True,
            extra_args=[
                *("--insights-llm-url", f"http://127.0.0.1:{port}"),
                *("--insights-llm-model", "stub-7b", "--insights-llm-key", key),
                *("--log-level", "DEBUG"),
            ],
        ).start(timeout_s=120)
        await run_calls(server, "--speed", "4", "--max-frames", "3000", timeout_s=120)
        _, calls = await request(server, "GET", "/calls", headers=server.headers)
        call_id = calls["records"][0]["id"]
        doc = await document(server, call_id, timeout_s=120)
        assert doc["callscopeAnalysis"] == {"engine": "llm", "model": "stub-7b", "llmAttempts": 1}
        assert doc["insights"]["Summary"][0]["value"] == "From the model: a password reset."
        (step,) = doc["insights"]["NextSteps"]
        said = next(t for t in doc["insights"]["Transcript"] if " will " in t["text"].lower())
        assert step == {
            "speakerId": f"p-{call_id}-2",
            "value": "From the model: send the reset link",
            "start": said["start"],
            "end": said["end"],
        }
        assert seen[0]["model"] == "stub-7b"
        assert headers == [f"Bearer {key}"]
        assert key not in server.log()
    finally:
        await runner.cleanup()
