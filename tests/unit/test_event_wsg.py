"""The WebSocket gateway's delivery rules (events/wsg.py), without a socket: what counts as
delivered, how many may go unconfirmed, and where a recovered session starts again."""

from __future__ import annotations

import pytest

from callscope.events.wsg import (
    RECOVERY_BUFFER_SIZE,
    RecoveryWindow,
    notification_frame,
    parse_sequence,
    replay_start,
)


def sent(window: RecoveryWindow, n: int) -> None:
    for _ in range(n):
        window.written(window.sequence + 1)


@pytest.mark.parametrize(("text", "value"), [("0", 0), ("17", 17), ("9007199254740991", 2**53 - 1)])
def test_sequences_parse(text: str, value: int) -> None:
    assert parse_sequence(text) == value


@pytest.mark.parametrize("text", ["", "-1", "1.5", "abc", "+3", "9007199254740992", "1" * 30, "١"])
def test_what_is_no_sequence_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="sequence number"):
        parse_sequence(text)


@pytest.mark.parametrize(
    ("sequence", "acked", "client", "start"),
    [
        (20, 0, None, 0),  # wsc only: after what the pongs confirmed
        (20, 12, None, 12),
        (20, 12, 15, 15),  # the client's word wins: it read more than the pongs said
        (20, 12, 5, 5),  # or lost some it had read
        (20, 12, 99, 20),  # more than was ever sent: nothing to send again
        (250, 0, None, 250 - RECOVERY_BUFFER_SIZE),  # older ones are not kept
        (0, 0, 7, 0),
    ],
)
def test_a_recovered_session_starts_after_what_the_client_holds(
    sequence: int, acked: int, client: int | None, start: int
) -> None:
    assert replay_start(sequence, acked, client) == start


def test_nothing_counts_as_delivered_until_a_pong_names_it() -> None:
    w = RecoveryWindow()
    sent(w, 3)
    assert (w.acked, w.space()) == (0, RECOVERY_BUFFER_SIZE - 3)
    assert w.confirm_due()
    assert w.ping(now=10.0) == b"3"
    assert not w.confirm_due()  # one question at a time
    sent(w, 2)  # written after the ping: the pong does not cover them
    assert w.pong(b"3") == 3
    assert w.acked == 3
    assert w.confirm_due()  # 4 and 5 are still unconfirmed
    assert w.ping(now=11.0) == b"5"
    assert w.pong(b"5") == 2
    assert not w.confirm_due()


@pytest.mark.parametrize("payload", [b"", b"x", b"-1", b"99"])
def test_a_pong_that_answers_no_ping_of_ours_confirms_nothing(payload: bytes) -> None:
    w = RecoveryWindow()
    sent(w, 5)
    w.ping(now=0.0)
    assert w.pong(payload) == 0
    assert w.acked == 0
    assert w.overdue(now=20.0)  # still unanswered


def test_at_most_the_buffer_goes_unconfirmed() -> None:
    w = RecoveryWindow(size=4)
    sent(w, 4)
    assert w.space() == 0  # the sender waits: the buffer keeps only these four
    w.ping(now=0.0)
    assert w.pong(b"4") == 4
    assert w.space() == 4


def test_a_ping_left_unanswered_means_a_dead_connection() -> None:
    w = RecoveryWindow()
    assert w.heartbeat_due(now=100.0)
    assert w.ping(now=100.0) == b"0"  # a heartbeat names what was written, nothing
    assert not w.overdue(now=110.0)
    assert not w.heartbeat_due(now=140.0)  # not while one is unanswered
    assert w.overdue(now=116.0)
    assert w.pong(b"0") == 0
    assert not w.overdue(now=200.0)
    assert not w.heartbeat_due(now=120.0)
    assert w.heartbeat_due(now=130.0)


def test_a_recovered_window_starts_where_the_client_is() -> None:
    w = RecoveryWindow(sequence=12, acked=12)
    sent(w, 2)
    assert w.ping(now=0.0) == b"14"
    assert w.pong(b"13") == 1  # an answer to less than was asked still confirms that much


def test_a_notification_frame_carries_its_session_sequence() -> None:
    meta, body = notification_frame("wsc-1", 7, {"uuid": "u-1", "body": {}})
    assert meta["type"] == "ServerNotification"
    assert meta["messageId"] == "u-1"
    assert meta["wsc"] == {"token": "wsc-1", "sequence": 7}
    assert meta["status"] == 200
    assert body == {"uuid": "u-1", "body": {}}
