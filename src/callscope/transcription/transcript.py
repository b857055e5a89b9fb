"""Per-party transcription of whole channels (``callscope transcribe``) through the same
VAD segmentation and engine a live call uses. The speaker is the channel's party — never
guessed: left = agent, right = customer (RingCX perspectives); a mono file is one speaker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError, RecordingError
from callscope.media.wav import read_wav
from callscope.transcription.engines import Engine
from callscope.transcription.vad import Segment, Segmenter, SileroProbabilities

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
    """Utterances of every channel, in time order. ``progress(done, total)`` counts samples."""
    make = segmenter_factory or (lambda: Segmenter(SileroProbabilities()))
    total = sum(len(a) for _, a in channels)
    done = 0
    out: list[Utterance] = []
    for speaker, audio in channels:
        segmenter = make()
        segments: list[Segment] = []
        for i in range(0, len(audio), CHUNK):
            segments.extend(segmenter.feed(audio[i : i + CHUNK]))
            done += min(CHUNK, len(audio) - i)
            if progress is not None and i % (CHUNK * 250) == 0:
                progress(done, total)
        segments.extend(segmenter.flush())
        for seg in segments:
            for rec in engine.transcribe(seg.audio):
                start = seg.start_ms + int(rec.start_s * 1000)
                end = min(seg.end_ms, seg.start_ms + int(rec.end_s * 1000))
                out.append(Utterance(speaker, start, max(start, end), rec.text, rec.confidence))
    if progress is not None:
        progress(total, total)
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
