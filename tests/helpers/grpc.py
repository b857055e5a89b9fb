"""A raw RingCX gRPC stream for tests: the first messages of a dialog, and the status a
refused stream ends with."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import empty_pb2

from callscope.protocols import ringcx_streaming_pb2 as pb

METHOD = "/ringcentral.ringcx.streaming.v1beta2.Streaming/Stream"


def raw_stream(
    port: int, messages: list[pb.StreamEvent], token: str | None
) -> grpc.aio.StreamUnaryCall:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = channel.stream_unary(
        METHOD,
        request_serializer=pb.StreamEvent.SerializeToString,
        response_deserializer=empty_pb2.Empty.FromString,
    )

    async def gen() -> Any:
        for m in messages:
            yield m

    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    return stub(gen(), metadata=metadata)


def init(product_id: str = "4401", rc_account: str = "70000001") -> list[pb.StreamEvent]:
    return [
        pb.StreamEvent(
            session_id="s1",
            dialog_init=pb.DialogInitEvent(
                account=pb.Account(
                    id="88800010", sub_account_id="88800012", rc_account_id=rc_account
                ),
                dialog=pb.Dialog(id="raw-1", type=pb.INBOUND, ani="6505550100"),
            ),
        ),
        pb.StreamEvent(
            session_id="s1",
            segment_start=pb.SegmentStartEvent(
                segment_id="c",
                product=pb.Product(id=product_id, type=pb.QUEUE),
                participant=pb.Participant(id="contact", type=pb.CONTACT),
            ),
        ),
        pb.StreamEvent(
            session_id="s1",
            segment_start=pb.SegmentStartEvent(
                segment_id="a", participant=pb.Participant(id="5501", type=pb.AGENT)
            ),
        ),
    ]


async def refused_with(call: grpc.aio.StreamUnaryCall) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()
