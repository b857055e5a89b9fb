"""The RingCX gRPC streaming schema against the wire facts of spec §11.4.

Every message, field number, field name, type, presence and enum value is listed here by
hand from the spec, so a change to ringcx_streaming.proto that would break wire
compatibility fails this test. Hand-written wire bytes check that the generated module parses
what a RingCX sender puts on the wire.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from google.protobuf.descriptor import FieldDescriptor as F

from callscope.protocols import ringcx_streaming_pb2 as pb

PACKAGE = "ringcentral.ringcx.streaming.v1beta2"
SRC = Path(pb.__file__).parent

STR, BYTES, U32 = F.TYPE_STRING, F.TYPE_BYTES, F.TYPE_UINT32
MSG, ENUM = F.TYPE_MESSAGE, F.TYPE_ENUM

#: message → [(field name, number, type, message/enum type name, oneof)]; oneof is None for a
#: plain field, "event" for the StreamEvent choice, "_<name>" for a proto3 `optional` field
MESSAGES: dict[str, list[tuple[str, int, int, str | None, str | None]]] = {
    "StreamEvent": [
        ("session_id", 1, STR, None, None),
        ("dialog_init", 2, MSG, "DialogInitEvent", "event"),
        ("segment_start", 3, MSG, "SegmentStartEvent", "event"),
        ("segment_media", 4, MSG, "SegmentMediaEvent", "event"),
        ("segment_info", 5, MSG, "SegmentInfoEvent", "event"),
        ("segment_stop", 6, MSG, "SegmentStopEvent", "event"),
    ],
    "DialogInitEvent": [
        ("account", 1, MSG, "Account", None),
        ("dialog", 2, MSG, "Dialog", None),
    ],
    "Account": [
        ("id", 1, STR, None, None),
        ("sub_account_id", 2, STR, None, None),
        ("rc_account_id", 3, STR, None, None),
    ],
    "Dialog": [
        ("id", 1, STR, None, None),
        ("type", 2, ENUM, "DialogType", None),
        ("ani", 3, STR, None, "_ani"),
        ("dnis", 4, STR, None, "_dnis"),
        ("language", 5, STR, None, "_language"),
        ("attributes", 6, MSG, "Dialog.AttributesEntry", None),  # map<string, string>
    ],
    "SegmentStartEvent": [
        ("segment_id", 1, STR, None, None),
        ("product", 2, MSG, "Product", "_product"),
        ("participant", 3, MSG, "Participant", None),
        ("audio_format", 4, MSG, "AudioFormat", "_audio_format"),
    ],
    "Product": [
        ("id", 1, STR, None, None),
        ("type", 2, ENUM, "ProductType", None),
    ],
    "Participant": [
        ("id", 1, STR, None, None),
        ("type", 2, ENUM, "ParticipantType", None),
        ("name", 3, STR, None, "_name"),
    ],
    "AudioFormat": [
        ("codec", 1, ENUM, "Codec", None),
        ("rate", 2, U32, None, None),
        ("ptime", 3, U32, None, None),
    ],
    "SegmentMediaEvent": [
        ("segment_id", 1, STR, None, None),
        ("audio_content", 2, MSG, "AudioContent", None),
    ],
    "AudioContent": [
        ("payload", 1, BYTES, None, None),
        ("seq", 2, U32, None, None),
        ("duration", 3, U32, None, None),
    ],
    "SegmentInfoEvent": [
        ("segment_id", 1, STR, None, None),
        ("event", 2, STR, None, None),
        ("data", 3, STR, None, "_data"),
    ],
    "SegmentStopEvent": [
        ("segment_id", 1, STR, None, None),
    ],
}

ENUMS: dict[str, dict[str, int]] = {
    "Codec": {"CODEC_UNSPECIFIED": 0, "OPUS": 1, "PCMA": 2, "PCMU": 3, "L16": 4, "FLAC": 5},
    "ProductType": {"PRODUCT_TYPE_UNSPECIFIED": 0, "QUEUE": 1, "CAMPAIGN": 2, "IVR": 3},
    "DialogType": {"DIALOG_TYPE_UNSPECIFIED": 0, "INBOUND": 1, "OUTBOUND": 2},
    "ParticipantType": {"PARTICIPANT_TYPE_UNSPECIFIED": 0, "CONTACT": 1, "AGENT": 2, "BOT": 5},
}


def test_the_file_declares_the_spec_package_and_nothing_more() -> None:
    assert pb.DESCRIPTOR.package == PACKAGE
    assert set(pb.DESCRIPTOR.message_types_by_name) == set(MESSAGES)
    assert set(pb.DESCRIPTOR.enum_types_by_name) == set(ENUMS)
    assert set(pb.DESCRIPTOR.services_by_name) == {"Streaming"}


@pytest.mark.parametrize("message", sorted(MESSAGES))
def test_every_field_has_its_wire_number_name_type_and_presence(message: str) -> None:
    desc = pb.DESCRIPTOR.message_types_by_name[message]
    assert desc.full_name == f"{PACKAGE}.{message}"
    seen = []
    for field in desc.fields:
        if field.message_type is not None:
            type_name: str | None = field.message_type.full_name
        elif field.enum_type is not None:
            type_name = field.enum_type.full_name
        else:
            type_name = None
        oneof = field.containing_oneof.name if field.containing_oneof is not None else None
        seen.append((field.name, field.number, field.type, type_name, oneof))
    expected = [
        (name, number, kind, f"{PACKAGE}.{t}" if t else None, oneof)
        for name, number, kind, t, oneof in MESSAGES[message]
    ]
    assert seen == expected


def test_attributes_is_a_string_to_string_map() -> None:
    entry = pb.Dialog.DESCRIPTOR.fields_by_name["attributes"].message_type
    assert entry.GetOptions().map_entry
    assert [(f.name, f.number, f.type) for f in entry.fields] == [
        ("key", 1, STR),
        ("value", 2, STR),
    ]


@pytest.mark.parametrize("enum", sorted(ENUMS))
def test_every_enum_value_has_its_wire_number(enum: str) -> None:
    desc = pb.DESCRIPTOR.enum_types_by_name[enum]
    assert desc.full_name == f"{PACKAGE}.{enum}"
    assert {v.name: v.number for v in desc.values} == ENUMS[enum]


def test_stream_is_client_streaming_and_answers_empty() -> None:
    method = pb.DESCRIPTOR.services_by_name["Streaming"].methods_by_name["Stream"]
    assert method.full_name == f"{PACKAGE}.Streaming.Stream"
    assert method.client_streaming
    assert not method.server_streaming
    assert method.input_type.full_name == f"{PACKAGE}.StreamEvent"
    assert method.output_type.full_name == "google.protobuf.Empty"


def test_the_grpc_module_imports_its_messages_package_relative() -> None:
    from callscope.protocols import ringcx_streaming_pb2_grpc as grpc_mod

    text = Path(grpc_mod.__file__).read_text()
    assert "from . import ringcx_streaming_pb2 as" in text
    assert hasattr(grpc_mod, "StreamingServicer")
    assert hasattr(grpc_mod, "add_StreamingServicer_to_server")


def test_the_gencode_runs_on_the_declared_protobuf_and_grpcio_floors() -> None:
    # Generated code refuses a runtime older than its generator: the floors in pyproject
    # must not be lower than the versions the committed modules were generated for.
    deps = tomllib.loads((SRC.parents[2] / "pyproject.toml").read_text())["project"]
    floors = {}
    for dep in deps["dependencies"]:
        m = re.fullmatch(r"(grpcio|protobuf)>=([\d.]+)", dep.split(";")[0].strip())
        if m:
            floors[m[1]] = tuple(int(x) for x in m[2].split("."))
    pb2 = (SRC / "ringcx_streaming_pb2.py").read_text()
    m = re.search(r"Domain\.PUBLIC,\s*(\d+),\s*(\d+),\s*(\d+),", pb2)
    assert m is not None
    assert tuple(int(x) for x in m.groups()) <= floors["protobuf"] + (0,) * 3
    grpc_src = (SRC / "ringcx_streaming_pb2_grpc.py").read_text()
    g = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", grpc_src)
    assert g is not None
    assert tuple(int(x) for x in g[1].split(".")) <= floors["grpcio"] + (0,) * 3


# -- hand-written wire bytes ---------------------------------------------------------------
#
# tag byte = field number << 3 | wire type (0 varint, 2 length-delimited)


def test_dialog_init_from_hand_written_bytes() -> None:
    dialog = (
        b"\x0a\x03d-1"  # id = "d-1"
        b"\x10\x01"  # type = INBOUND
        b"\x1a\x00"  # ani = "" (present though empty: `optional`)
        b"\x32\x0a" + b"\x0a\x01k" + b"\x12\x05value"  # attributes {"k": "value"}
    )
    account = b"\x0a\x02a1\x12\x02s2\x1a\x02r3"
    init = b"\x0a" + bytes([len(account)]) + account + b"\x12" + bytes([len(dialog)]) + dialog
    wire = b"\x0a\x02s9" + b"\x12" + bytes([len(init)]) + init  # session_id, dialog_init (2)
    event = pb.StreamEvent.FromString(wire)
    assert event.session_id == "s9"
    assert event.WhichOneof("event") == "dialog_init"
    acc = event.dialog_init.account
    assert (acc.id, acc.sub_account_id, acc.rc_account_id) == ("a1", "s2", "r3")
    d = event.dialog_init.dialog
    assert d.id == "d-1"
    assert d.type == pb.INBOUND
    assert d.HasField("ani")
    assert d.ani == ""
    assert not d.HasField("dnis")
    assert dict(d.attributes) == {"k": "value"}


def test_segment_start_media_and_stop_from_hand_written_bytes() -> None:
    participant = b"\x0a\x02p7\x10\x05\x1a\x03Bot"  # id, type = BOT (5), name
    fmt = b"\x08\x02\x10\xc0\x3e\x18\x64"  # codec = PCMA, rate = 8000, ptime = 100
    start = b"\x0a\x02g1" + b"\x1a" + bytes([len(participant)]) + participant
    start += b"\x22" + bytes([len(fmt)]) + fmt
    event = pb.StreamEvent.FromString(b"\x1a" + bytes([len(start)]) + start)  # segment_start (3)
    s = event.segment_start
    assert event.WhichOneof("event") == "segment_start"
    assert s.segment_id == "g1"
    assert not s.HasField("product")
    assert (s.participant.id, s.participant.type, s.participant.name) == ("p7", pb.BOT, "Bot")
    assert (s.audio_format.codec, s.audio_format.rate, s.audio_format.ptime) == (pb.PCMA, 8000, 100)

    content = b"\x0a\x04\xd5\xd5\x55\x55" + b"\x10\xac\x02" + b"\x18\x01"  # seq = 300
    media = b"\x0a\x02g1" + b"\x12" + bytes([len(content)]) + content
    event = pb.StreamEvent.FromString(b"\x22" + bytes([len(media)]) + media)  # segment_media (4)
    a = event.segment_media.audio_content
    assert event.WhichOneof("event") == "segment_media"
    assert (a.payload, a.seq, a.duration) == (b"\xd5\xd5\x55\x55", 300, 1)

    info = b"\x0a\x02g1\x12\x04hold"
    event = pb.StreamEvent.FromString(b"\x2a" + bytes([len(info)]) + info)  # segment_info (5)
    assert (event.segment_info.event, event.segment_info.HasField("data")) == ("hold", False)

    event = pb.StreamEvent.FromString(b"\x32\x04\x0a\x02g1")  # segment_stop (6)
    assert event.WhichOneof("event") == "segment_stop"
    assert event.segment_stop.segment_id == "g1"


def test_serializing_gives_the_same_bytes_back() -> None:
    event = pb.StreamEvent(
        segment_media=pb.SegmentMediaEvent(
            segment_id="g1", audio_content=pb.AudioContent(payload=b"\xff", seq=1, duration=0)
        )
    )
    assert event.SerializeToString() == b"\x22\x0b\x0a\x02g1\x12\x05\x0a\x01\xff\x10\x01"
