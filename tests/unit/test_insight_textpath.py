"""The insights text path's readers: REST transcript JSON, ``callscope transcribe`` JSON and
WebVTT to utterances, and the errors that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callscope.api.transcripts import webvtt
from callscope.errors import TranscriptInvalid
from callscope.insights.textpath import analyze_text, from_json, from_vtt, load_file

REST = {
    "utterances": [
        {"seq": 1, "speaker": "agent", "partyId": "p-1", "startMs": 0, "endMs": 2000,
         "text": "Hello, this is Kim <at> Stride & Co."},
        {"seq": 2, "speaker": "customer", "partyId": "p-2", "startMs": 2500, "endMs": 5000,
         "text": "I'll send the photos tonight."},
    ]
}  # fmt: skip


def test_rest_json_and_its_webvtt_read_the_same() -> None:
    a = from_json(REST)
    b = from_vtt(webvtt(REST["utterances"]))
    assert [(u.speaker, u.start, u.end, u.text) for u in a] == [
        (u.speaker, u.start, u.end, u.text) for u in b
    ]
    assert [u.party_id for u in a] == ["p-1", "p-2"]
    assert a[0].text == "Hello, this is Kim <at> Stride & Co."
    transcribed = {"utterances": [{"speaker": "agent", "start_ms": 0, "end_ms": 900, "text": "Hi"}]}
    assert from_json(transcribed)[0].end == 0.9


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "no utterances array"),
        ({"utterances": [1]}, r"utterances\[0\] is not an object"),
        ({"utterances": [{"speaker": "agent", "text": "x"}]}, r"needs startMs ≤ endMs"),
        (
            {"utterances": [{"speaker": "a", "text": "x", "startMs": 5, "endMs": 1}]},
            r"utterances\[0\] needs startMs ≤ endMs",
        ),
    ],
)
def test_bad_json_is_named(body: object, message: str) -> None:
    with pytest.raises(TranscriptInvalid, match=message):
        from_json(body)


def test_bad_webvtt_and_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(TranscriptInvalid, match="first line must be WEBVTT"):
        from_vtt("hello")
    with pytest.raises(TranscriptInvalid, match="no cues"):
        from_vtt("WEBVTT\n\n")
    with pytest.raises(TranscriptInvalid, match=r"nope\.json"):
        load_file(tmp_path / "nope.json")
    blank = tmp_path / "blank.json"
    blank.write_text(json.dumps({"utterances": [{"speaker": "a", "text": " ", "startMs": 0,
                                                 "endMs": 1}]}))  # fmt: skip
    with pytest.raises(TranscriptInvalid, match="no utterances with text"):
        analyze_text(load_file(blank), source="blank.json")


def test_a_document_from_text() -> None:
    doc = analyze_text(from_json(REST), source="call.json")
    assert doc["title"] == "Transcript call.json"
    assert doc["recordingDurationMs"] == 5000
    (step,) = doc["insights"]["NextSteps"]
    assert step == {
        "speakerId": "p-2", "value": "Customer to send the photos tonight.", "start": 2.5,
        "end": 5.0,
    }  # fmt: skip
