"""The offline insight analyzers on small transcripts: commitments and their vetoes, owners,
instructions, highlights, summary, metrics, sentiment, keywords, the disclosure check, and the
similarity test on the packaged sentence-embedding model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from callscope.errors import ConfigError
from callscope.insights.analyzers import Utterance, analyze, instruction, next_steps
from callscope.insights.embeddings import MiniLM, packaged_paths
from callscope.sim.runner import default_source


def said(*turns: tuple[str, str]) -> list[Utterance]:
    out, t = [], 0.0
    for i, (speaker, text) in enumerate(turns):
        out.append(Utterance(i, speaker, f"p-{speaker}", t, t + 3.0, text))
        t += 3.5
    return out


@pytest.mark.parametrize(
    ("speaker", "text", "found"),
    [
        ("agent", "I'll send the label today.", ["Send the label today."]),
        ("agent", "I will email you the steps tonight.", ["Email the customer the steps tonight."]),
        ("agent", "We're going to refund your card.", ["Refund the customer's card."]),
        ("customer", "I'll call back tomorrow.", ["Customer: call back tomorrow."]),
        ("agent", "If it breaks, I'll cancel the order.", []),
        ("customer", "if it breaks I'll cancel", []),
        ("agent", "I won't charge you for this.", []),
        ("agent", "I will not send another bill.", []),
        ("agent", "Let me check that for you.", []),
        ("agent", "I'll put you on hold for a moment.", []),
        ("agent", "I'll need your date of birth.", []),
        ("agent", "I'll be happy to help.", []),
        ("customer", "Will you send it to my work address?", []),
        ("agent", "I can help with that.", []),
        ("agent", "I have unlocked it now.", []),
    ],
)
def test_commitments_and_vetoes(speaker: str, text: str, found: list[str]) -> None:
    steps = next_steps(said((speaker, text)))
    assert [s.value for s in steps] == found
    for s in steps:
        assert s.owner == speaker
        assert s.party_id == f"p-{speaker}"
        assert s.by == "rule"


def test_two_commitments_in_one_sentence_are_two_steps() -> None:
    steps = next_steps(
        said(("agent", "Yes, I will add a note to your account, and I will email you a form."))
    )
    assert [s.value for s in steps] == [
        "Add a note to the customer's account.",
        "Email the customer a form.",
    ]


def test_instruction_keeps_what_was_said() -> None:
    assert instruction("So I'll also mail your refund", "agent") == "Mail the customer's refund."
    assert instruction("we will call you back", "customer") == "Customer: call you back."


def _scripted() -> list[Utterance]:
    script = json.loads(default_source().with_suffix(".json").read_text())
    return [
        Utterance(i, t["speaker"], f"p-{t['speaker']}", t["start"], t["end"], t["text"])
        for i, t in enumerate(script["turns"])
    ]


def test_the_bundled_call_from_its_script() -> None:
    analysis = analyze(_scripted(), 76.6)
    steps = [s.value for s in analysis.next_steps]
    assert steps == [
        "Send the customer a new password reset link by text message right now.",
        "Add a note to the customer's account.",
        "Email the customer instructions to whitelist the support address today.",
    ]
    kinds = {h["kind"]: h for h in analysis.highlights}
    assert "locked out of my online account" in kinds["problem"]["value"]
    assert kinds["problem"]["speakerId"] == "p-customer"
    assert "I have unlocked it now." in kinds["resolution"]["value"]
    # The summary quotes what was said: reason, resolution, actions.
    assert analysis.summary.startswith("The customer said: \"I'm locked out")
    assert "I have unlocked it now." in analysis.summary
    assert "Agreed next steps: send the customer a new password reset link" in analysis.summary
    m = analysis.metrics
    assert set(m["talkRatio"]) == {"agent", "customer"}
    assert abs(sum(m["talkRatio"].values()) - 1) < 0.01
    assert m["talkRatio"]["agent"] > m["talkRatio"]["customer"]
    assert 0 < m["silenceSeconds"] < 76.6
    assert m["interruptions"] == 0
    assert m["longestMonologue"]["seconds"] > 5
    assert analysis.sentiment["trend"] == "improved"  # locked out → "Perfect. Thanks"
    assert analysis.sentiment["overall"] == "Positive"
    assert "account" in [k.lower() for k in analysis.keywords]
    assert analysis.compliance["recordingDisclosure"] is False


def test_disclosure_interruptions_and_an_empty_call() -> None:
    call = said(
        ("agent", "Hello, this call may be recorded for quality purposes."),
        ("customer", "That's terrible, my internet is broken again."),
    )
    call.append(Utterance(9, "agent", "p-agent", 5.0, 6.0, "Sorry to hear that."))  # overlaps
    analysis = analyze(call, 10.0)
    assert analysis.compliance["recordingDisclosure"] is True
    assert analysis.compliance["speakerId"] == "p-agent"
    assert analysis.metrics["interruptions"] == 1
    assert analysis.sentiment["overall"] == "Negative"
    empty = analyze([], 5.0)
    assert empty.next_steps == []
    assert empty.keywords == []
    assert "No problem statement" in empty.summary
    assert empty.metrics["silenceSeconds"] == 5.0


def test_the_packaged_embedding_model_loads_and_finds_what_rules_miss() -> None:
    model, tokenizer = packaged_paths()
    assert model.stat().st_size > 10_000_000
    assert tokenizer.name == "tokenizer.json"
    embed = MiniLM()
    vectors = embed(["I will send you the link", "I'll email the link to you", "It rains"])
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    call = said(
        ("agent", "The technician visit is booked for Tuesday morning."),
        ("agent", "Thanks for waiting."),
    )
    assert next_steps(call) == []  # no first-person future: rules alone miss it
    (step,) = next_steps(call, embed=embed)
    assert step.by == "similarity"
    assert step.value == "The technician visit is booked for Tuesday morning."
    # A veto stands whatever the similarity.
    assert next_steps(said(("agent", "If you want, I'll send the label.")), embed=embed) == []


def test_missing_model_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"model file missing: .*model\.onnx"):
        MiniLM(tmp_path / "model.onnx", tmp_path / "tokenizer.json")
