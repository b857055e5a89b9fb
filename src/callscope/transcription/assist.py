"""Live assist: alerts and suggestions raised from a call's final utterances as they come.

Pure (no I/O): :class:`AssistRules` is loaded once (the packaged ``assist_rules.json`` or the
``assist_rules`` setting); each live transcript holds a :class:`LiveAssist` that turns a final
utterance into zero or more items. Three kinds of check:

* keyword rules from the rules file (each fires once per call, on the speakers it names);
* ``negative-sentiment``: a customer utterance whose VADER compound score is at or below
  ``sentiment_threshold`` (at most once a minute of call time);
* ``disclosure-missing``: no recording or monitoring disclosure by ``disclosure_deadline_ms``
  of call time (once per call, as soon as a final utterance ends past the deadline).

An item is ``{"id", "type": "alert"|"suggestion", "rule", "severity", "title", "text",
"speaker", "utteranceSeq", "atMs"}``; the transcript publishes it as ``assist.alert`` or
``assist.suggestion``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

from callscope.errors import ConfigError
from callscope.insights.analyzers import DISCLOSURE  # the insights compliance check's test

__all__ = ["AssistRule", "AssistRules", "LiveAssist", "load_rules"]

TYPES: Final = ("alert", "suggestion")
SEVERITIES: Final = ("info", "warning", "critical")
SENTIMENT_REPEAT_MS: Final = 60_000


@dataclass(frozen=True, slots=True)
class AssistRule:
    id: str
    type: str
    severity: str
    speakers: tuple[str, ...]
    patterns: tuple[re.Pattern[str], ...]
    title: str
    text: str

    def matches(self, speaker: str, text: str) -> bool:
        return speaker in self.speakers and any(p.search(text) for p in self.patterns)


@dataclass(frozen=True, slots=True)
class AssistRules:
    rules: tuple[AssistRule, ...]
    disclosure_deadline_ms: int = 30_000
    sentiment_threshold: float = -0.45


def _rule(raw: object, where: str) -> AssistRule:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: a rule must be an object")

    def text(key: str) -> str:
        value = raw.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: {key!r} must be a non-empty string")
        return value

    rule_id, kind, severity = text("id"), text("type"), raw.get("severity", "info")
    if kind not in TYPES:
        raise ConfigError(f"{where}: type must be one of {TYPES}, not {kind!r}")
    if severity not in SEVERITIES:
        raise ConfigError(f"{where}: severity must be one of {SEVERITIES}, not {severity!r}")
    speakers = raw.get("speakers", ["customer"])
    patterns = raw.get("patterns")
    if not isinstance(speakers, list) or not all(isinstance(s, str) for s in speakers):
        raise ConfigError(f"{where}: speakers must be a list of speaker names")
    if not isinstance(patterns, list) or not patterns:
        raise ConfigError(f"{where}: patterns must be a non-empty list of regular expressions")
    compiled = []
    for p in patterns:
        try:
            compiled.append(re.compile(str(p), re.IGNORECASE))
        except re.error as exc:
            raise ConfigError(f"{where}: pattern {p!r} is not a regular expression: {exc}") from exc
    return AssistRule(
        rule_id, kind, str(severity), tuple(speakers), tuple(compiled), text("title"), text("text")
    )


def load_rules(path: Path | None = None) -> AssistRules:
    """The rules file at ``path``, or the packaged one.

    Raises:
        ConfigError: the file is missing, not JSON, or a rule is malformed (says which).
    """
    where = str(path) if path else "packaged assist_rules.json"
    try:
        if path is None:
            raw = resources.files("callscope.transcription").joinpath("assist_rules.json")
            doc = json.loads(raw.read_text(encoding="utf-8"))
        else:
            doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"assist rules: cannot read {where}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"assist rules: {where} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise ConfigError(f'assist rules: {where} must be an object with a "rules" list')
    rules = tuple(_rule(r, f"{where} rule {i + 1}") for i, r in enumerate(doc["rules"]))
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"assist rules: {where} repeats a rule id")
    deadline = doc.get("disclosureDeadlineMs", 30_000)
    threshold = doc.get("sentimentThreshold", -0.45)
    if not isinstance(deadline, int) or deadline < 0:
        raise ConfigError(f"assist rules: {where}: disclosureDeadlineMs must be an integer ≥ 0")
    if not isinstance(threshold, int | float) or not -1 <= threshold <= 0:
        raise ConfigError(f"assist rules: {where}: sentimentThreshold must be in [-1, 0]")
    return AssistRules(rules, deadline, float(threshold))


@dataclass
class LiveAssist:
    """One call's assist state: which rules fired, whether the disclosure was heard."""

    rules: AssistRules
    #: VADER compound score of a text, or None to skip the sentiment check
    sentiment: Callable[[str], float] | None = None
    fired: set[str] = field(default_factory=set)
    disclosed: bool = False
    last_sentiment_ms: int | None = None
    items: list[dict[str, Any]] = field(default_factory=list)

    def on_final(self, utterance: dict[str, Any]) -> Sequence[dict[str, Any]]:
        """Items raised by one final utterance (``seq``, ``speaker``, ``text``, ``startMs``,
        ``endMs``), in a stable order; each is also kept in :attr:`items`."""
        speaker, text = str(utterance["speaker"]), str(utterance["text"])
        seq, start, end = int(utterance["seq"]), int(utterance["startMs"]), int(utterance["endMs"])
        out: list[dict[str, Any]] = []

        def raise_item(rule: str, kind: str, severity: str, title: str, body: str) -> None:
            out.append(
                {
                    "id": f"{rule}-{seq}",
                    "type": kind,
                    "rule": rule,
                    "severity": severity,
                    "title": title,
                    "text": body,
                    "speaker": speaker,
                    "utteranceSeq": seq,
                    "atMs": start,
                }
            )

        if DISCLOSURE.search(text):
            self.disclosed = True
        for rule in self.rules.rules:
            if rule.id not in self.fired and rule.matches(speaker, text):
                self.fired.add(rule.id)
                raise_item(rule.id, rule.type, rule.severity, rule.title, rule.text)
        if speaker == "customer" and self.sentiment is not None:
            recent = (
                self.last_sentiment_ms is not None
                and start - self.last_sentiment_ms < SENTIMENT_REPEAT_MS
            )
            if not recent and self.sentiment(text) <= self.rules.sentiment_threshold:
                self.last_sentiment_ms = start
                raise_item(
                    "negative-sentiment",
                    "alert",
                    "warning",
                    "Customer sounds upset",
                    f"Negative sentiment: “{text[:160]}”",
                )
        deadline = self.rules.disclosure_deadline_ms
        if (
            deadline
            and not self.disclosed
            and "disclosure-missing" not in self.fired
            and end >= deadline
        ):
            self.fired.add("disclosure-missing")
            raise_item(
                "disclosure-missing",
                "alert",
                "warning",
                "No recording disclosure",
                f"Nobody has said that the call is recorded in the first {deadline // 1000} s.",
            )
        self.items.extend(out)
        return out
