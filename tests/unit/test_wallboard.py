"""Pure parts of the wallboard: phone numbers as people write them, sentiment words, queue
figures, and what a web phone's state says it supervises (the audit trail's input)."""

from __future__ import annotations

from typing import Any

import pytest

from callscope.api.wallboard import _queues
from callscope.calls.telephony import session_id_for
from callscope.calls.wallboard import sentiment_label
from callscope.store.repo import _digits
from callscope.supervision.audit import _monitoring


@pytest.mark.parametrize(
    ("written", "digits"),
    [
        ("+16505550100", "16505550100"),
        ("+1 650 555 0100", "16505550100"),
        ("(650) 555-0100", "6505550100"),
        ("650.555.0100", "6505550100"),
        ("650/555 0100", "6505550100"),
        ("password", ""),  # words are not a number
        ("5501x", ""),
        ("12", ""),  # too short to be one
        ("", ""),
    ],
)
def test_a_phone_number_is_its_digits_however_it_is_written(written: str, digits: str) -> None:
    assert _digits(written) == digits


@pytest.mark.parametrize(
    ("score", "label"),
    [(None, None), (-0.6, "Negative"), (-0.05, "Negative"), (0.0, "Neutral"), (0.3, "Positive")],
)
def test_sentiment_words(score: float | None, label: str | None) -> None:
    assert sentiment_label(score) == label


def test_queue_figures_count_live_calls_and_the_longest() -> None:
    calls: list[dict[str, Any]] = [
        {"productType": "Queue", "productId": "4401", "elapsedMs": 5_000},
        {"productType": "Queue", "productId": "4401", "elapsedMs": 90_000},
        {"productType": "Campaign", "productId": "7", "elapsedMs": 1_000},
        {"productType": None, "productId": None, "elapsedMs": 99_000},  # no queue: not counted
    ]
    assert _queues(calls) == [
        {"productType": "Campaign", "productId": "7", "liveCalls": 1, "longestCallMs": 1_000},
        {"productType": "Queue", "productId": "4401", "liveCalls": 2, "longestCallMs": 90_000},
    ]


def test_a_web_phone_state_names_the_call_and_mode_it_supervises() -> None:
    session = session_id_for("c0ffee")
    active = {
        "id": "42",
        "deviceState": "Active",
        "supervisorMonitoringState": {"telephonySessionId": session, "activeMode": "Coach"},
    }
    assert _monitoring(active) == ("c0ffee", "Coach")
    # armed for a next call, not attached: nothing supervised yet
    armed = {**active, "supervisorMonitoringState": {"state": "ListenIn", "mode": "NextCall"}}
    assert _monitoring(armed) is None
    assert _monitoring({"id": "42", "deviceState": "Active"}) is None
    assert _monitoring({**active, "deviceState": "Inactive"}) is None  # the phone went away
