"""Per-party transcription of whole channels (``callscope transcribe``) through the same
VAD segmentation and engine a live call uses. The speaker is the channel's party — never
guessed: left = agent, right = customer (RingCX perspectives); a mono file is one speaker."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError, RecordingError
from callscope.media.wav import read_wav
from callscope.transcription.engines import Engine
from callscope.transcription.streamer import Result, StreamTranscriber
from callscope.transcription.vad import Segmenter

__all__ = ["Utterance", "transcribe_channels", "transcribe_file"]

CHUNK = 160  # 20 ms at 8 kHz, as the live stream delivers it


@dataclass(frozen=True, slots=True)
class Utterance:
    """A final utterance; times are milliseconds from the start of the call or file."""

    speaker: str
    start_ms: int
    end_ms: int
    text: str
    confidence: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Progress = Callable[[int, int], None]


def transcribe_channels(
    channels: Sequence[tuple[str, npt.NDArray[np.int16]]],
    engine: Engine,
    *,
    progress: Progress | None = None,
    segmenter_factory: Callable[[], Segmenter] | None = None,
) -> list[Utterance]:
    """Utterances of every channel, in time order, through the live streaming path (VAD per
    channel, packed decodes). ``progress(done, total)`` counts samples."""
    if not channels:
        return []
    length = min(len(a) for _, a in channels)
    pcm = np.column_stack([a[:length] for _, a in channels]).astype(np.int16).ravel()
    n = len(channels)
    st = StreamTranscriber(engine, segmenter_factory=segmenter_factory)
    st.open(0, [speaker for speaker, _ in channels])
    results: list[Result] = []
    step = CHUNK * n
    for i in range(0, len(pcm), step):
        st.feed(0, pcm[i : i + step], time.monotonic())
        if st.scheduler.finals_queued_s >= st.scheduler.window_s:
            results += st.decode_next()[0]
        if progress is not None and i % (step * 250) == 0:
            progress(i // n, length)
    st.close(0, time.monotonic())
    while st.scheduler:
        results += st.decode_next()[0]
    if progress is not None:
        progress(length, length)
    out = [Utterance(r.speaker, r.start_ms, r.end_ms, r.text, r.confidence) for r in results]
    return sorted(out, key=lambda u: (u.start_ms, u.speaker))


def transcribe_file(
    path: Path, engine: Engine, *, progress: Progress | None = None
) -> list[Utterance]:
    """Transcribe an 8 kHz WAV: stereo = agent left, customer right; mono = one speaker."""
    try:
        rate, pcm = read_wav(path)
    except RecordingError as exc:
        raise ConfigError(str(exc)) from exc
    if rate != 8000:
        raise ConfigError(
            f"{path}: {rate} Hz; callscope transcribes 8 kHz call audio (resample with sox)"
        )
    if pcm.shape[1] == 1:
        channels = [("speaker", pcm[:, 0])]
    elif pcm.shape[1] == 2:
        channels = [("agent", pcm[:, 0]), ("customer", pcm[:, 1])]
    else:
        raise ConfigError(f"{path}: {pcm.shape[1]} channels; use mono or stereo (agent, customer)")
    return transcribe_channels(channels, engine, progress=progress)
