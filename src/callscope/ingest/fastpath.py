"""The in-order Media frame of a one-way RingCX stream, in one Python frame.

Nearly every message of a WebSocket stream is a RingCX ``Media`` frame that arrives in order.
The general path (:meth:`LiveCall.on_text <callscope.ingest.live_call.LiveCall.on_text>` →
:meth:`RingCXReceiver.receive_text <callscope.protocols.ringcx.RingCXReceiver.receive_text>`
→ ``_media`` → :meth:`CallMediaPipeline.push <callscope.media.pipeline.CallMediaPipeline.push>`
→ :meth:`JitterBuffer.push <callscope.media.jitter.JitterBuffer.push>`) takes five Python
calls for it, and the interpreter's frames are most of what callscope adds per message over
a bare loop (``bench/ingest_path.py``). :func:`in_order_media` does the same work for that
case alone in one function, reading the receiver's, the pipeline's and the jitter buffers'
state directly.

For anything else it answers False before changing anything, and the general path takes
the message as before: another event, malformed JSON or fields, an unknown perspective, a
sequenceId that is not a string of ASCII digits or not the next one, frames waiting in a
jitter buffer, a stopped or ended perspective, a refused call, concealment past the bound
last checked, channels out of step (the pipeline would conceal to realign them), a payload
that is not one frame, the first frame (it anchors the lag epoch), a message over the size
limit. ``tests/unit/test_ingest_fastpath.py`` feeds the same streams both ways and compares
everything they leave behind.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import TYPE_CHECKING

import orjson

from callscope.media.pipeline import CallMediaPipeline
from callscope.protocols.ringcx import PERSPECTIVE_BY_NAME, ReceiverState, RingCXReceiver

if TYPE_CHECKING:
    from callscope.ingest.live_call import LiveCall

__all__ = ["FastMedia", "in_order_media"]

#: ``fast(text, now)``: True when the message was an in-order Media frame, taken
FastMedia = Callable[[str | bytes, float], bool]


def in_order_media(call: LiveCall) -> FastMedia | None:
    """The fast path for ``call``'s messages, or None when its stream is not a one-way
    RingCX stream into a :class:`CallMediaPipeline` (a two-way stream, a gRPC dialog)."""
    rx, pipe = call.receiver, call.media
    if type(rx) is not RingCXReceiver or type(pipe) is not CallMediaPipeline:
        return None
    if pipe.frame_bytes > rx._max_media:
        return None  # the general path would refuse a frame as oversize: let it
    return _fast_path(call, rx, pipe)


def _fast_path(call: LiveCall, rx: RingCXReceiver, pipe: CallMediaPipeline) -> FastMedia:
    streaming = ReceiverState.STREAMING
    max_chars, frame_bytes = rx._max_chars, pipe.frame_bytes
    left, right = pipe.buffers
    buffers, ready, ended = pipe.buffers, pipe._ready, pipe._ended
    loads, decode_error, a2b, by_name = (
        orjson.loads,
        orjson.JSONDecodeError,
        binascii.a2b_base64,
        PERSPECTIVE_BY_NAME,
    )

    def fast(text: str | bytes, now: float) -> bool:
        if (
            rx.state is not streaming
            or rx._stopped
            or pipe.refusal is not None
            or pipe._epoch is None
            or len(text) > max_chars
        ):
            return False
        try:
            msg = loads(text)
        except decode_error:
            return False
        if type(msg) is not dict or msg.get("event") != "Media":
            return False
        perspective = by_name.get(msg.get("perspective"))  # type: ignore[arg-type]
        seq = msg.get("sequenceId")
        if (
            perspective is None
            or type(seq) is not str
            or not (seq.isascii() and seq.isdigit())
            or len(seq) > 18
            or ended[perspective]
        ):
            return False
        buf = buffers[perspective]
        ok = pipe._conceal_ok
        if int(seq) != buf.next_seq or buf._pending or left.missing > ok or right.missing > ok:
            return False
        try:
            payload = a2b(msg.get("media"), strict_mode=True)  # type: ignore[arg-type]
        except (binascii.Error, ValueError, TypeError):
            return False
        if len(payload) != frame_bytes:
            return False
        # CallMediaPipeline.push emits a batch when both channels are in step, else drains:
        # a drain may conceal (and so refuse the call), which is the general path's to do
        nl, nr = len(ready[0]), len(ready[1])
        if perspective:
            nr += 1
        else:
            nl += 1
        batch, skew = pipe._batch, pipe._max_skew
        emit = nl >= batch and nr >= batch and -skew <= nl - nr <= skew
        if not emit and (nl - nr > skew or nr - nl > skew or pipe._any_ended):
            return False
        # LiveCall.on_text, then JitterBuffer.push for an in-order frame with nothing waiting
        call.last_activity = now
        buf.received += 1
        buf.next_seq += 1
        ready[perspective].append(payload)
        if emit:
            pipe._emit(min(nl, nr), now)
        return True

    return fast
