"""Supervision audio both ways: the call's blocks to the device, the device's microphone into
the call.

Listen: a pipeline sink per supervised call turns each stereo block into 20 ms frames for the
device, one per stream (mixed or one channel). Talk: microphone frames go into the calls the
device coaches (toward the agent only) or barges into (both directions), as μ-law on the
call's two-way stream.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import numpy as np

from callscope.media.g711 import lin2ulaw
from callscope.protocols.twilio import Track
from callscope.supervision.model import Supervision, SupervisionMode
from callscope.supervision.webphone import FRAME_BYTES, MicFrame, channel_pcm, listen_frame

if TYPE_CHECKING:
    from callscope.ingest.service import LiveCall
    from callscope.media.pipeline import StereoBlock
    from callscope.metrics import Counter
    from callscope.supervision.links import DeviceLink
    from callscope.transcription.live import PartyFeed

__all__ = ["TALK_TRACKS", "AudioRouter"]

#: which directions of a two-way stream a talking supervisor is heard in
TALK_TRACKS: Final[dict[SupervisionMode, tuple[Track, ...]]] = {
    SupervisionMode.LISTEN: (),
    SupervisionMode.COACH: (Track.INBOUND,),  # toward the agent only
    SupervisionMode.BARGE: (Track.INBOUND, Track.OUTBOUND),
}
SAMPLES_PER_FRAME: Final = FRAME_BYTES // 2


def tap(sup: Supervision, link: DeviceLink) -> Callable[[StereoBlock], None]:
    """Pipeline sink: each block as 20 ms frames to the device, per stream."""

    def sink(block: StereoBlock) -> None:
        arrived = time.monotonic()
        interleaved = block.interleaved
        for stream in sup.streams:
            pcm = channel_pcm(interleaved, stream.channel)
            for i in range(block.frames):
                link.send_audio(
                    listen_frame(
                        stream.channel,
                        stream.id,
                        block.start_frame + i,
                        pcm[i * FRAME_BYTES : (i + 1) * FRAME_BYTES],
                    ),
                    arrived,
                )

    return sink


class AudioRouter:
    """The device's microphone into the calls it talks in."""

    def __init__(self, talk_frames: Counter) -> None:
        self.talk_frames = talk_frames

    async def microphone(
        self,
        link: DeviceLink,
        frame: MicFrame,
        targets: list[Supervision],
        calls: dict[str, LiveCall],
        feed: Callable[[Supervision], PartyFeed | None],
    ) -> int:
        """Send ``frame`` into each target call the device talks in; returns how many
        calls it reached (frames to calls it only listens to are counted as ignored)."""
        ulaw: bytes | None = None
        reached = 0
        for sup in targets:
            tracks = TALK_TRACKS[sup.mode]
            call = calls.get(sup.call_id)
            talkback = call.talkback if call is not None else None
            if not tracks or call is None or talkback is None:
                link.mic_ignored += frame.frames
                continue
            if ulaw is None:
                ulaw = lin2ulaw(np.frombuffer(frame.pcm, dtype="<i2"))
            party_feed = feed(sup)
            if party_feed is not None:
                party_feed.push(frame.pcm, call.media.written_frames, frame.frames)
            for i in range(frame.frames):
                chunk = ulaw[i * SAMPLES_PER_FRAME : (i + 1) * SAMPLES_PER_FRAME]
                if not await talkback.media(tracks, chunk):
                    break
            self.talk_frames.inc(frame.frames, mode=str(sup.mode))
            reached += 1
        return reached
