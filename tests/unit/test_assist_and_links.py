"""Live assist rules and the per-call page's signed links (pure cores)."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from callscope.api.clientlinks import ClientLink, LinkError, issue_link, sign_link, verify_link
from callscope.errors import ConfigError
from callscope.insights.analyzers import compound
from callscope.transcription.assist import LiveAssist, load_rules

KEY = b"k" * 32


def utt(
    seq: int, speaker: str, text: str, start_ms: int, end_ms: int | None = None
) -> dict[str, Any]:
    return {
        "seq": seq,
        "speaker": speaker,
        "text": text,
        "startMs": start_ms,
        "endMs": end_ms if end_ms is not None else start_ms + 2000,
    }


def test_packaged_rules_load_and_fire_once_per_call_for_their_speakers() -> None:
    rules = load_rules()
    assert {"escalation-request", "account-locked", "cancellation-risk"} <= {
        r.id for r in rules.rules
    }
    assist = LiveAssist(rules)
    # the agent saying the words raises nothing: the rule is about the customer
    assert assist.on_final(utt(1, "agent", "Do you want to reset your password?", 0)) == []
    items = assist.on_final(utt(2, "customer", "I'm locked out and forgot my password", 3000))
    assert [(i["rule"], i["type"], i["utteranceSeq"], i["atMs"]) for i in items] == [
        ("account-locked", "suggestion", 2, 3000)
    ]
    assert items[0]["id"] == "account-locked-2"
    assert assist.on_final(utt(3, "customer", "the password still fails", 6000)) == []
    escalation = assist.on_final(utt(4, "customer", "Let me speak to your manager now", 9000))
    assert [(i["rule"], i["severity"]) for i in escalation] == [("escalation-request", "critical")]
    assert [i["rule"] for i in assist.items] == ["account-locked", "escalation-request"]


def test_missing_disclosure_is_raised_once_past_the_deadline_and_not_when_given() -> None:
    rules = load_rules()
    quiet = LiveAssist(rules)
    assert quiet.on_final(utt(1, "agent", "Hello, how can I help?", 0, 2000)) == []
    late = quiet.on_final(
        utt(2, "agent", "Let me check that.", 29_000, rules.disclosure_deadline_ms)
    )
    assert [i["rule"] for i in late] == ["disclosure-missing"]
    assert quiet.on_final(utt(3, "agent", "Still checking.", 40_000)) == []
    told = LiveAssist(rules)
    told.on_final(utt(1, "agent", "Hello, this call may be recorded for quality.", 0))
    assert told.on_final(utt(2, "agent", "How can I help?", 31_000, 33_000)) == []


def test_an_upset_customer_raises_a_sentiment_alert_at_most_once_a_minute() -> None:
    assist = LiveAssist(load_rules(), sentiment=compound)
    assert assist.on_final(utt(0, "agent", "Hi, this call is being recorded.", 0)) == []
    calm = assist.on_final(utt(1, "customer", "Thanks, that is great.", 1000))
    assert calm == []
    angry = "This is terrible, I am furious and disgusted with your awful service."
    first = assist.on_final(utt(2, "customer", angry, 5000))
    assert [i["rule"] for i in first] == ["negative-sentiment"]
    assert assist.on_final(utt(3, "customer", angry, 20_000)) == []  # within a minute
    again = assist.on_final(utt(4, "customer", angry, 70_000))
    assert [i["rule"] for i in again] == ["negative-sentiment"]
    # the agent's words are not scored
    assert assist.on_final(utt(5, "agent", angry, 140_000)) == []


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ("not json", "is not JSON"),
        ({"rules": "x"}, '"rules" list'),
        (
            {"rules": [{"id": "a", "type": "nudge", "title": "t", "text": "x", "patterns": ["a"]}]},
            "type must be",
        ),
        (
            {"rules": [{"id": "a", "type": "alert", "title": "t", "text": "x", "patterns": ["("]}]},
            "not a regular expression",
        ),
        (
            {"rules": [{"id": "a", "type": "alert", "title": "t", "text": "x", "patterns": []}]},
            "non-empty list",
        ),
        (
            {"rules": [{"id": "a", "type": "alert", "title": "", "text": "x", "patterns": ["a"]}]},
            "'title'",
        ),
        (
            {
                "rules": [
                    {"id": "a", "type": "alert", "title": "t", "text": "x", "patterns": ["a"]}
                ]
                * 2
            },
            "repeats a rule id",
        ),
        ({"rules": [], "sentimentThreshold": 0.5}, "sentimentThreshold"),
    ],
)
def test_a_bad_rules_file_is_refused_with_the_reason(
    tmp_path: Path, doc: Any, message: str
) -> None:
    path = tmp_path / "rules.json"
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    with pytest.raises(ConfigError, match=message):
        load_rules(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_rules(tmp_path / "missing.json")


def _query(link: ClientLink, key: bytes = KEY) -> dict[str, str]:
    return link.query(key)


def test_a_signed_link_opens_its_call_until_it_expires() -> None:
    link = ClientLink("70000001", "uii-123", 2_000_000_000)
    assert verify_link(KEY, _query(link), now=1_999_999_999) == link
    with pytest.raises(LinkError, match="expired"):
        verify_link(KEY, _query(link), now=2_000_000_001)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"callId": "uii-124"}, "signature is not valid"),
        ({"account": "70000002"}, "signature is not valid"),
        ({"expires": "2000000500"}, "signature is not valid"),
        ({"signature": "A" * 43}, "signature is not valid"),
        ({"signature": ""}, "lacks signature"),
        ({"account": "seven"}, "malformed"),
        ({"expires": "-1"}, "malformed"),
        ({"callId": "x" * 65}, "malformed"),
    ],
)
def test_an_altered_link_is_refused(change: dict[str, str], message: str) -> None:
    query = {**_query(ClientLink("70000001", "uii-123", 2_000_000_000)), **change}
    with pytest.raises(LinkError, match=message):
        verify_link(KEY, query, now=1_000_000_000)


def test_a_link_signed_with_another_key_is_refused() -> None:
    link = ClientLink("70000001", "uii-123", 2_000_000_000)
    assert sign_link(KEY, link) != sign_link(b"other", link)
    with pytest.raises(LinkError, match="signature"):
        verify_link(KEY, _query(link, b"other"), now=1)


def test_issued_links_verify_and_their_lifetime_is_bounded() -> None:
    link, path = issue_link(KEY, "70000001", "uii-9", 120)
    query = dict(urllib.parse.parse_qsl(path.split("?", 1)[1]))
    assert verify_link(KEY, query) == link
    for ttl in (59, 86_401):
        with pytest.raises(LinkError, match="60-86400 seconds"):
            issue_link(KEY, "70000001", "uii-9", ttl)
