"""The web-phone wire protocol both ways, without a socket: what the server writes is what
the device side reads, typed; frames and text from a device are checked."""

from __future__ import annotations

import orjson
import pytest

from callscope.supervision.core import SupervisionCore
from callscope.supervision.model import CallView, Channel, DeviceView, Stream, SupervisionMode
from callscope.supervision.webphone import (
    Control,
    DeviceState,
    StreamEvent,
    WebPhoneClient,
    listen_frame,
    mic_frame,
    mode_changed,
    notice,
    parse_control,
    parse_device_text,
    parse_listen,
    parse_mic,
    state_message,
    stream_message,
)


def a_stream() -> tuple[SupervisionCore, Stream]:
    core = SupervisionCore()
    core.add_device(DeviceView(1, 101, "101", "acc"))
    view = CallView("c1", "s-c1", 102, "p-c1-2", "p-c1-1", two_way=True)
    stream, _, _ = core.supervise(view, 1, SupervisionMode.COACH, Channel.AGENT, "p-c1-2", 102)
    stream.supervisor_party = "p-c1-3"
    return core, stream


@pytest.mark.parametrize(
    ("kind", "extra", "reason", "agent"),
    [
        ("StreamStarted", {}, None, "102"),  # the call's agent
        ("StreamEnded", {"reason": "call ended"}, "call ended", "102"),
        ("StreamTransferred", {"agentExtensionId": "103"}, None, "103"),
    ],
)
def test_stream_messages_read_back_typed(
    kind: str, extra: dict[str, str], reason: str | None, agent: str | None
) -> None:
    _, stream = a_stream()
    wire = orjson.dumps(stream_message(kind, stream, **extra))
    client = WebPhoneClient()
    client.receive_text(wire)
    event = client.streams[stream.id]
    assert event == StreamEvent(
        kind=kind,
        stream=stream.id,
        call_id="c1",
        session_id="s-c1",
        party_id="p-c1-2",
        channel=Channel.AGENT,
        supervisor_party_id="p-c1-3",
        mode=SupervisionMode.COACH,
        two_way=True,
        reason=reason,
        agent_extension_id=agent,
    )


def test_state_and_other_messages_read_back_typed() -> None:
    core, stream = a_stream()
    state = parse_control(orjson.loads(orjson.dumps(state_message(core.state(1)))))
    assert isinstance(state, DeviceState)
    assert state.state == "Active"
    assert "Coach" in state.capabilities
    assert state.monitoring is not None
    assert state.monitoring["activeMode"] == "Coach"
    changed = parse_control(mode_changed(stream.supervision))
    assert changed == Control("ModeChanged", mode_changed(stream.supervision))
    assert parse_control(notice("hi")) == Control("Notice", {"type": "Notice", "message": "hi"})
    with pytest.raises(ValueError, match="without"):
        parse_control({"type": "StreamStarted", "stream": 1})


def test_audio_frames_both_ways() -> None:
    pcm = bytes(range(256)) + bytes(64)
    frame = parse_listen(listen_frame(2, 7, 12345, pcm))
    assert (frame.channel, frame.stream, frame.frame, frame.pcm) == (2, 7, 12345, pcm)
    mic = parse_mic(mic_frame(pcm * 2, stream=7, counter=3))
    assert (mic.stream, mic.frames, mic.pcm) == (7, 2, pcm * 2)
    with pytest.raises(ValueError, match="kind 2"):
        parse_listen(mic_frame(pcm))
    with pytest.raises(ValueError, match="kind 1"):
        parse_mic(listen_frame(0, 1, 0, pcm))


@pytest.mark.parametrize("text", ['{"type": "Hello"}', "not json", "[1]", '"Ping"'])
def test_a_device_may_only_ping(text: str) -> None:
    assert parse_device_text(WebPhoneClient.ping()) == "Ping"
    with pytest.raises(ValueError, match="only"):
        parse_device_text(text)
