"""VAD segmentation rules (synthetic probabilities), silero on real audio, the resampler."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from callscope.media.resample import upsample_2x
from callscope.media.wav import read_wav
from callscope.sim.runner import default_source
from callscope.transcription.vad import Segmenter, SileroProbabilities

RATE = 8000


def loud_is_speech(window: npt.NDArray[np.int16]) -> float:
    return 1.0 if np.abs(window.astype(np.int32)).mean() > 1000 else 0.0


def audio(*parts: tuple[float, bool]) -> npt.NDArray[np.int16]:
    """(seconds, speech?) pieces: speech = loud noise, else digital silence."""
    rng = np.random.default_rng(1)
    out = [
        (rng.integers(-8000, 8000, int(s * RATE)) if on else np.zeros(int(s * RATE))).astype(
            np.int16
        )
        for s, on in parts
    ]
    return np.concatenate(out)


def segments(pcm: npt.NDArray[np.int16], **kwargs: int) -> list[tuple[int, int, bool]]:
    seg = Segmenter(loud_is_speech, **kwargs)
    found = []
    for i in range(0, len(pcm), 160):
        found += list(seg.feed(pcm[i : i + 160]))
    found += list(seg.flush())
    return [(s.start_ms, s.end_ms, s.forced_cut) for s in found]


def test_two_utterances_with_pre_roll_and_hangover() -> None:
    pcm = audio((1.0, False), (1.0, True), (1.0, False), (0.5, True), (1.0, False))
    found = segments(pcm, pre_roll_ms=200, hangover_ms=400)
    assert len(found) == 2
    (s1, e1, _), (s2, e2, _) = found
    # onset minus the 200 ms pre-roll, within one 32 ms VAD window either way
    assert 1000 - 200 - 32 <= s1 <= 1000 - 200 + 32
    assert 2000 <= e1 <= 2250  # trailing silence trimmed to half the pre-roll
    assert 3000 - 200 - 32 <= s2 <= 3000 - 200 + 32
    assert 3500 <= e2 <= 3750


def test_short_blips_are_dropped() -> None:
    pcm = audio((0.5, False), (0.05, True), (1.0, False))
    assert segments(pcm, min_speech_ms=150, pre_roll_ms=0) == []


def test_monologues_are_cut_at_the_maximum_length() -> None:
    pcm = audio((0.2, False), (3.5, True), (1.0, False))
    found = segments(pcm, max_segment_ms=1000, pre_roll_ms=0)
    assert [f for *_, f in found].count(True) == 3
    assert all(e - s <= 1040 for s, e, _ in found)
    assert found[-1][1] >= 3600  # the tail still comes out


def test_speech_at_the_end_is_flushed() -> None:
    pcm = audio((0.5, False), (1.0, True))
    (found,) = segments(pcm, pre_roll_ms=0)
    assert found[0] >= 480
    assert found[1] == 1500


def test_bad_settings_are_refused() -> None:
    from callscope.errors import ConfigError

    with pytest.raises(ConfigError, match="threshold"):
        Segmenter(loud_is_speech, threshold=1.5)
    with pytest.raises(ConfigError, match="max_segment_ms"):
        Segmenter(loud_is_speech, max_segment_ms=10)


def test_silero_finds_speech_and_rejects_dtmf() -> None:
    vad = SileroProbabilities()
    w = vad.window
    t = np.arange(RATE) / RATE
    dtmf = (6000 * (np.sin(2 * np.pi * 697 * t) + np.sin(2 * np.pi * 1209 * t))).astype(np.int16)
    dtmf_p = [vad(dtmf[i : i + w]) for i in range(0, len(dtmf) - w, w)]
    _, call = read_wav(Path(default_source()))
    speech = call[int(0.5 * RATE) : int(3.5 * RATE), 0]  # the agent's greeting
    vad2 = SileroProbabilities()
    speech_p = [vad2(speech[i : i + w]) for i in range(0, len(speech) - w, w)]
    assert max(dtmf_p) < 0.5
    assert np.mean([p > 0.5 for p in speech_p]) > 0.5


def test_upsampler_keeps_the_band_and_removes_images() -> None:
    t = np.arange(8000) / 8000
    x = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    y = upsample_2x(x)
    assert len(y) == 16000
    spectrum = np.abs(np.fft.rfft(y[1000:-1000] * np.hanning(14000)))
    freqs = np.fft.rfftfreq(14000, 1 / 16000)
    wanted = spectrum[np.argmin(np.abs(freqs - 1000))]
    image = spectrum[np.argmin(np.abs(freqs - 7000))]  # where a naive upsampler mirrors 1 kHz
    assert 20 * np.log10(image / wanted) < -50
    assert np.max(np.abs(y[1000:-1000])) == pytest.approx(0.5, rel=0.02)
