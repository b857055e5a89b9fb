"""G.711 μ-law and A-law codecs and WAV writing, repair and reading."""

from __future__ import annotations

import struct
import warnings
import wave
from pathlib import Path

import numpy as np
import pytest

from callscope.errors import RecordingError
from callscope.media import g711
from callscope.media.g711 import (
    ALAW_SILENCE,
    alaw2lin,
    alaw2lin_bytes,
    alaw_table,
    lin2alaw,
    lin2ulaw,
    ulaw2lin,
    ulaw2lin_bytes,
    ulaw2lin_stereo,
    ulaw_table,
)
from callscope.media.wav import WavWriter, read_wav, repair_wav

ALL_SAMPLES = np.arange(-32768, 32768, dtype=np.int32)


def test_decode_table_matches_g711_reference_points() -> None:
    t = ulaw_table()
    assert t[0xFF] == 0
    assert t[0x7F] == 0
    assert t[0x00] == -32124
    assert t[0x80] == 32124
    assert t[0xF0] == 120
    assert t[0x70] == -120


def test_every_code_survives_decode_then_encode() -> None:
    codes = bytes(range(256))
    again = lin2ulaw(ulaw2lin(codes))
    # 0x7F (-0) and 0xFF (+0) both decode to 0, which encodes as 0xFF
    assert again == codes.replace(b"\x7f", b"\xff")


def test_encoding_matches_audioop_when_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("audioop is not in this Python (3.13+) and audioop-lts is not installed")
    pcm = ALL_SAMPLES.astype("<i2").tobytes()
    assert lin2ulaw(ALL_SAMPLES) == audioop.lin2ulaw(pcm, 2)
    assert ulaw2lin(bytes(range(256))).astype("<i2").tobytes() == audioop.ulaw2lin(
        bytes(range(256)), 2
    )


def test_round_trip_error_is_bounded_by_the_segment_step() -> None:
    decoded = ulaw2lin(lin2ulaw(ALL_SAMPLES)).astype(np.int32)
    err = np.abs(decoded - np.clip(ALL_SAMPLES, -32124, 32124))
    assert err.max() <= 1024  # half the largest μ-law step, plus the 14-bit shift
    small = np.abs(ALL_SAMPLES) < 100
    assert err[small].max() < 8  # the smallest μ-law step near zero is 8


def test_alaw_table_matches_g711_reference_points() -> None:
    t = alaw_table()
    assert t[ALAW_SILENCE] == 8  # A-law has no zero: ±8 are the codes nearest to it
    assert t[0x55] == -8
    assert t[0xAA] == 32256
    assert t[0x2A] == -32256
    assert t[0x80] == 5504  # 0x80 ^ 0x55 = 0xD5: segment 5, mantissa 5, positive
    assert not t.flags.writeable


@pytest.fixture(params=["audioop", "table"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the byte decoders can go: the standard library's C decoder where the
    interpreter has it (3.11, 3.12), the tables otherwise."""
    if request.param == "table":
        monkeypatch.setattr(g711, "_audioop", None)
    elif g711._audioop is None:
        pytest.skip("this interpreter has no audioop")  # Python 3.13+: the tables are the path
    return str(request.param)


def test_every_alaw_code_survives_decode_then_encode(engine: str) -> None:
    codes = bytes(range(256))
    assert lin2alaw(alaw2lin(codes)) == codes  # no code is a duplicate (no ±0)
    assert alaw2lin_bytes(codes) == alaw2lin(codes).astype("<i2").tobytes()


def test_alaw_matches_audioop_when_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            import audioop
        except ImportError:
            pytest.skip("audioop is not in this Python (3.13+) and audioop-lts is not installed")
    pcm = ALL_SAMPLES.astype("<i2").tobytes()
    assert lin2alaw(ALL_SAMPLES) == audioop.lin2alaw(pcm, 2)
    assert alaw2lin_bytes(bytes(range(256))) == audioop.alaw2lin(bytes(range(256)), 2)


def test_alaw_round_trip_error_is_bounded_by_the_segment_step() -> None:
    decoded = alaw2lin(lin2alaw(ALL_SAMPLES)).astype(np.int32)
    err = np.abs(decoded - ALL_SAMPLES)
    assert err.max() <= 512  # half the largest A-law step (1024)
    small = np.abs(ALL_SAMPLES) < 256
    assert err[small].max() <= 8  # the smallest A-law step is 16


def stereo(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    return (
        rng.integers(-20000, 20000, n).astype(np.int16),
        rng.integers(-20000, 20000, n).astype(np.int16),
    )


def test_writer_produces_a_standard_stereo_wav(tmp_path: Path) -> None:
    left, right = stereo(8000)
    w = WavWriter(tmp_path / "a.wav")
    w.write_stereo(left[:3000], right[:3000])
    w.write_stereo(left[3000:], right[3000:])
    w.close()
    w.close()  # idempotent
    assert w.duration_ms == 1000
    with wave.open(str(tmp_path / "a.wav")) as f:
        assert (f.getnchannels(), f.getsampwidth(), f.getframerate()) == (2, 2, 8000)
        data = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, 2)
    assert np.array_equal(data[:, 0], left)
    assert np.array_equal(data[:, 1], right)


def test_header_is_kept_current_while_writing(tmp_path: Path) -> None:
    left, right = stereo(1000)
    w = WavWriter(tmp_path / "b.wav", header_interval_frames=500)
    w.write_stereo(left, right)
    # not closed: the header already counts the frames written so far
    with wave.open(str(tmp_path / "b.wav")) as f:
        assert f.getnframes() == 1000
    w.close()


def test_repair_after_a_crash_restores_sizes_and_cuts_a_torn_frame(tmp_path: Path) -> None:
    path = tmp_path / "c.wav"
    left, right = stereo(4000)
    w = WavWriter(path, header_interval_frames=10**9)  # header never rewritten: like a kill
    w.write_stereo(left, right)
    with path.open("ab") as f:
        f.write(b"\x01\x02\x03")  # a torn sample frame
    info = repair_wav(path)
    assert (info.channels, info.rate_hz, info.frames) == (2, 8000, 4000)
    assert info.duration_ms == 500
    with wave.open(str(path)) as f:
        assert f.getnframes() == 4000
    rate, pcm = read_wav(path)
    assert rate == 8000
    assert np.array_equal(pcm[:, 0], left)


def test_repair_refuses_files_it_did_not_write(tmp_path: Path) -> None:
    bad = tmp_path / "x.wav"
    bad.write_bytes(b"hello")
    with pytest.raises(RecordingError, match="not a callscope recording"):
        repair_wav(bad)
    with pytest.raises(RecordingError, match="cannot repair"):
        repair_wav(tmp_path / "missing.wav")


def test_read_wav_reads_mulaw_files(tmp_path: Path) -> None:
    samples = np.array([0, 1000, -1000, 32000, -32000, 5], dtype=np.int16)
    data = lin2ulaw(samples)
    fmt = struct.pack("<HHIIHHH", 7, 1, 8000, 8000, 1, 8, 0)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "u.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    rate, pcm = read_wav(path)
    assert rate == 8000
    assert pcm.shape == (6, 1)
    assert np.array_equal(pcm[:, 0], ulaw2lin(data))


def test_read_wav_explains_unsupported_formats(tmp_path: Path) -> None:
    path = tmp_path / "f.wav"
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(1)
        f.setframerate(8000)
        f.writeframes(b"\x80" * 10)
    with pytest.raises(RecordingError, match="16-bit PCM or 8-bit μ-law"):
        read_wav(path)
    (tmp_path / "n.wav").write_bytes(b"not a wav")
    with pytest.raises(RecordingError, match="not a WAV"):
        read_wav(tmp_path / "n.wav")


def test_byte_decoder_equals_the_array_decoder(engine: str) -> None:
    codes = bytes(range(256)) * 3
    assert ulaw2lin_bytes(codes) == ulaw2lin(codes).astype("<i2").tobytes()


def test_stereo_decoder_decodes_every_pair_as_the_byte_decoder(engine: str) -> None:
    # every (left, right) combination of the 256 codes, interleaved
    pairs = np.stack(np.meshgrid(np.arange(256), np.arange(256)), axis=-1).astype(np.uint8)
    interleaved = pairs.tobytes()
    assert len(interleaved) == 2 * 65536
    assert ulaw2lin_stereo(interleaved) == ulaw2lin_bytes(interleaved)
    assert ulaw2lin_stereo(bytearray(interleaved[:640])) == ulaw2lin_bytes(interleaved[:640])
    assert ulaw2lin_stereo(b"") == b""
