"""Stream- and client-supplied text cannot forge log lines or drive a terminal."""

from __future__ import annotations

import logging

import pytest

from callscope.logsafe import clean


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("c-123", "c-123"),
        ("x\n2026-01-01 ERROR forged line", "x\\n2026-01-01 ERROR forged line"),
        ("a\r\nb\tc", "a\\r\\nb\\tc"),
        ("\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07"),
        ("\x00\x7f\x85\x9b", "\\x00\\x7f\\x85\\x9b"),  # NUL, DEL, NEL and CSI of C1
        ("a\u2028b\u2029c", "a\\u2028b\\u2029c"),  # Unicode line and paragraph separators
        ("admin\u202e\u2066txt.exe", "admin\\u202e\\u2066txt.exe"),  # bidi override, isolate
        ("Zoë 日本 ☎", "Zoë 日本 ☎"),  # printable text of any script is kept
        (None, "None"),
        (5501, "5501"),
    ],
)
def test_control_characters_are_escaped(raw: object, logged: str) -> None:
    assert clean(raw) == logged


def test_long_values_are_cut_before_escaping() -> None:
    assert clean("a" * 500) == "a" * 120 + "…"
    assert clean("\n" * 500, limit=3) == "\\n\\n\\n…"
    assert clean("abc", limit=3) == "abc"


def test_a_record_stays_one_line(caplog: pytest.LogCaptureFixture) -> None:
    hostile = "x\n2026-01-01 00:00:00,000 ERROR   callscope.ingest: forged\r\x1b[2J"
    with caplog.at_level(logging.INFO, logger="callscope.test"):
        logging.getLogger("callscope.test").info("started: call %s", clean(hostile))
    (record,) = caplog.records
    text = record.getMessage()
    assert "\n" not in text
    assert "\r" not in text
    assert "\x1b" not in text
    assert text.startswith("started: call x\\n2026-01-01")
