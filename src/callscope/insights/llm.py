"""Optional LLM backend: any OpenAI-compatible ``/v1/chat/completions`` endpoint writes the
summary, highlights and next steps; callscope keeps the facts.

The model sees the transcript as numbered utterances and must answer JSON that cites
utterance ids; callscope maps each id to its speaker and times (a model never invents who
said what, or when). An answer that is not that JSON, or cites ids that do not exist, is sent
back once with the reason (one repair); if it is still invalid — or the endpoint fails, or the
total ``deadline_s`` passes — the offline result stands and the error is recorded in the
document. The API key is sent as a bearer token and never logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import aiohttp
import orjson

from callscope.insights.analyzers import Utterance

__all__ = ["LlmClient", "LlmInsights", "LlmInvalid", "parse_answer"]

logger = logging.getLogger("callscope.insights")

SYSTEM: Final = (
    "You write post-call insights for a contact centre from a call transcript. Each line is "
    "'[id] speaker: text'. Answer with one JSON object and nothing else: "
    '{"summary": "<2-4 factual sentences: why the customer called, how it was resolved, what '
    'was agreed>", "highlights": [{"utterance": <id>, "text": "<the key point>"}], '
    '"nextSteps": [{"utterance": <id>, "text": "<an instruction, e.g. Email the customer the '
    'form>"}]}. Every item cites the id of the utterance it comes from. Only what was said: '
    "no invented names, numbers or promises. Next steps are things someone committed to do "
    "after the call; not conditional or refused ones."
)
MAX_ITEMS: Final = 20


class LlmInvalid(ValueError):
    """The model's answer is not the JSON asked for (the message says what is wrong)."""


@dataclass(frozen=True, slots=True)
class LlmInsights:
    summary: str
    highlights: list[tuple[Utterance, str]]
    next_steps: list[tuple[Utterance, str]]


def transcript_lines(utterances: Sequence[Utterance]) -> str:
    return "\n".join(f"[{u.id}] {u.speaker}: {u.text}" for u in utterances)


def parse_answer(content: str, utterances: Sequence[Utterance]) -> LlmInsights:
    """Check a model answer and map its citations to utterances.

    Raises:
        LlmInvalid: with what is wrong, for the repair round.
    """
    text = content.strip()
    if text.startswith("```"):  # a fenced answer: take what is inside
        text = text.strip("`")
        text = text[text.find("{") :] if "{" in text else text
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise LlmInvalid(f"not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LlmInvalid("the answer must be one JSON object")
    summary = data.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        raise LlmInvalid("'summary' must be a non-empty string")
    by_id = {u.id: u for u in utterances}

    def items(key: str) -> list[tuple[Utterance, str]]:
        raw = data.get(key, [])
        if not isinstance(raw, list) or len(raw) > MAX_ITEMS:
            raise LlmInvalid(f"'{key}' must be a list of at most {MAX_ITEMS} items")
        out = []
        for item in raw:
            if not isinstance(item, dict):
                raise LlmInvalid(f"each of '{key}' must be an object")
            uid, value = item.get("utterance"), item.get("text")
            if isinstance(uid, bool) or not isinstance(uid, int) or uid not in by_id:
                raise LlmInvalid(f"'{key}' cites utterance {uid!r:.20}, which does not exist")
            if not isinstance(value, str) or not value.strip():
                raise LlmInvalid(f"each of '{key}' needs a non-empty 'text'")
            out.append((by_id[uid], value.strip()))
        return out

    return LlmInsights(summary.strip(), items("highlights"), items("nextSteps"))


class LlmClient:
    def __init__(self, url: str, model: str, key: str = "", *, deadline_s: float = 60.0) -> None:
        base = url.rstrip("/")
        self.endpoint = (
            base if base.endswith("/chat/completions") else base + "/v1/chat/completions"
        )
        self.model = model
        self._key = key
        self.deadline_s = deadline_s

    async def _ask(self, http: aiohttp.ClientSession, messages: list[dict[str, str]]) -> str:
        headers = {"Content-Type": "application/json"}
        if self._key:
            headers["Authorization"] = f"Bearer {self._key}"
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        }
        async with http.post(self.endpoint, data=orjson.dumps(body), headers=headers) as r:
            if r.status != 200:
                raise RuntimeError(f"the endpoint answered HTTP {r.status}")
            answer = await r.json(content_type=None)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LlmInvalid("no choices[0].message.content in the answer") from exc
        if not isinstance(content, str):
            raise LlmInvalid("choices[0].message.content is not text")
        return content

    async def insights(
        self, utterances: Sequence[Utterance]
    ) -> tuple[LlmInsights | None, str | None, int]:
        """(result, error, attempts): the result, or None and why."""
        messages = [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": transcript_lines(utterances)},
        ]
        attempts = 0
        try:
            async with asyncio.timeout(self.deadline_s), aiohttp.ClientSession() as http:
                for attempt in range(2):  # the answer, then one repair
                    attempts = attempt + 1
                    content = await self._ask(http, messages)
                    try:
                        return parse_answer(content, utterances), None, attempts
                    except LlmInvalid as exc:
                        if attempt == 1:
                            return None, f"invalid answer after a repair: {exc}", attempts
                        messages += [
                            {"role": "assistant", "content": content[:8000]},
                            {
                                "role": "user",
                                "content": f"That answer is invalid: {exc}. Answer again with "
                                "only the JSON object, citing existing utterance ids.",
                            },
                        ]
        except TimeoutError:
            return None, f"no valid answer within the {self.deadline_s:g} s deadline", attempts
        except (aiohttp.ClientError, RuntimeError, LlmInvalid, ValueError) as exc:
            return None, f"{type(exc).__name__}: {exc}", attempts
        return None, "no answer", attempts
