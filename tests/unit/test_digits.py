"""Numbers in ids, counts and sequence numbers are ASCII digits: a superscript or another
script's digit ("²", "٣") passes str.isdigit() and made int() raise where the code read the
number (a stream message, a query parameter, a filter) instead of a clear refusal."""

from __future__ import annotations

import json

import pytest
from aiohttp.test_utils import make_mocked_request

from callscope.api.errors import ApiError
from callscope.api.paging import page_params
from callscope.digits import is_digits
from callscope.events.filters import FilterError, parse_filter
from callscope.protocols.ringcx import Malformed, RingCXReceiver, Start


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", True), ("2026", True), ("", False), ("²", False), ("1²", False), ("٣", False),
     ("12a", False), (" 1", False), ("-1", False)],
)  # fmt: skip
def test_only_ascii_digits_are_digits(text: str, expected: bool) -> None:
    assert is_digits(text) is expected


@pytest.mark.parametrize("sequence", ["²", "1²", "٣"])
def test_a_stream_sequence_number_in_other_digits_is_counted_malformed(sequence: str) -> None:
    rx = RingCXReceiver()
    start = {
        "event": "Start",
        "metadata": {
            "callId": "c1",
            "sessionId": "s1",
            "contentType": "audio/x-mulaw",
            "sampleRateHertz": 8000,
        },
    }
    assert type(rx.receive_text(json.dumps(start))) is Start
    media = {
        "event": "Media",
        "perspective": "Conference",
        "sequenceId": sequence,
        "media": "/////w==",
    }
    event = rx.receive_text(json.dumps(media))
    assert type(event) is Malformed
    assert event.kind == "bad_sequence"


@pytest.mark.parametrize("value", ["²", "1٣"])
def test_a_paging_parameter_in_other_digits_is_a_400(value: str) -> None:
    request = make_mocked_request("GET", f"/restapi/v1.0/x?perPage={value}")
    with pytest.raises(ApiError) as caught:
        page_params(request)
    assert caught.value.status == 400
    assert caught.value.code == "CMN-101"


def test_a_reminder_filter_in_other_digits_is_refused() -> None:
    with pytest.raises(FilterError, match="whole number of seconds"):
        parse_filter(
            "/restapi/v1.0/subscription/~?threshold=6²&interval=15",
            account_id="1",
            owner_extension_id=101,
        )
