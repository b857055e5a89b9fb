"""WAV files: a crash-safe streaming stereo writer, header repair, and a small reader.

The writer appends PCM as it arrives and rewrites the RIFF/data sizes every
``header_interval_frames``; after a kill, :func:`repair_wav` makes the file exact from its
length. Only the canonical 44-byte header is written, so the data offset is always 44.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callscope.errors import RecordingError
from callscope.media.g711 import ulaw2lin

__all__ = ["WavInfo", "WavWriter", "read_wav", "repair_wav", "wav_header"]

HEADER_BYTES = 44
_FORMAT_PCM = 1
_FORMAT_MULAW = 7
_FORMAT_EXTENSIBLE = 0xFFFE


def wav_header(*, data_bytes: int, channels: int, rate_hz: int, sample_bytes: int = 2) -> bytes:
    """The canonical 44-byte PCM header."""
    block_align = channels * sample_bytes
    return struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + data_bytes,
        b"WAVE",
        b"fmt ",
        16,
        _FORMAT_PCM,
        channels,
        rate_hz,
        rate_hz * block_align,
        block_align,
        sample_bytes * 8,
        b"data",
        data_bytes,
    )


class WavWriter:
    """Appends interleaved 16-bit PCM to a WAV file, keeping the header nearly current.

    Writes go straight to the OS (no user-space buffer), so a killed process loses nothing it
    had handed over; small synchronous writes to a local file are cheaper than a thread hop.
    """

    def __init__(
        self,
        path: Path,
        *,
        channels: int = 2,
        rate_hz: int = 8000,
        header_interval_frames: int = 8000 * 5,
    ) -> None:
        self.path = path
        self.channels = channels
        self.rate_hz = rate_hz
        self._block_align = 2 * channels
        self._interval = header_interval_frames
        self.frames = 0
        self._since_header = 0
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Calls are personal data: the owner's alone, whatever the umask.
            self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(self._fd, 0o600)
            os.write(self._fd, self._header())
        except OSError as exc:
            raise RecordingError(f"cannot create recording {path}: {exc}") from exc

    def _header(self) -> bytes:
        return wav_header(
            data_bytes=self.frames * self._block_align, channels=self.channels, rate_hz=self.rate_hz
        )

    def write_interleaved(self, data: bytes) -> None:
        """Append interleaved little-endian int16 sample frames."""
        if self._fd is None:
            raise RecordingError(f"recording {self.path} is closed")
        try:
            os.write(self._fd, data)
        except OSError as exc:
            raise RecordingError(f"cannot write recording {self.path}: {exc}") from exc
        n = len(data) // self._block_align
        self.frames += n
        self._since_header += n
        if self._since_header >= self._interval:
            self._since_header = 0
            os.pwrite(self._fd, self._header(), 0)

    def write_stereo(self, left: npt.NDArray[np.int16], right: npt.NDArray[np.int16]) -> None:
        inter = np.empty(2 * len(left), dtype="<i2")
        inter[0::2] = left
        inter[1::2] = right
        self.write_interleaved(inter.tobytes())

    def close(self) -> None:
        if self._fd is None:
            return
        try:
            os.pwrite(self._fd, self._header(), 0)
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def duration_ms(self) -> int:
        return self.frames * 1000 // self.rate_hz


@dataclass(frozen=True, slots=True)
class WavInfo:
    channels: int
    rate_hz: int
    frames: int

    @property
    def duration_ms(self) -> int:
        return self.frames * 1000 // self.rate_hz


def repair_wav(path: Path) -> WavInfo:
    """Make a recording written by :class:`WavWriter` valid after a crash.

    Sets the RIFF and data sizes from the file's real length and cuts a torn last sample
    frame. Returns what the file now holds.

    Raises:
        RecordingError: the file is missing or is not a recording callscope wrote.
    """
    try:
        with path.open("r+b") as f:
            head = f.read(HEADER_BYTES)
            if len(head) < HEADER_BYTES or head[:4] != b"RIFF" or head[36:40] != b"data":
                raise RecordingError(f"{path} is not a callscope recording (bad header)")
            (fmt, channels, rate, _, block_align, bits) = struct.unpack("<HHIIHH", head[20:36])
            if fmt != _FORMAT_PCM or bits != 16 or block_align != 2 * channels:
                raise RecordingError(f"{path}: unexpected format {fmt}/{bits} bit")
            size = f.seek(0, os.SEEK_END)
            data = (size - HEADER_BYTES) // block_align * block_align
            if HEADER_BYTES + data != size:
                f.truncate(HEADER_BYTES + data)
            f.seek(0)
            f.write(wav_header(data_bytes=data, channels=channels, rate_hz=rate))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise RecordingError(f"cannot repair {path}: {exc}") from exc
    return WavInfo(channels, rate, data // block_align)


def read_wav(path: Path) -> tuple[int, npt.NDArray[np.int16]]:
    """Read a 16-bit PCM or 8-bit μ-law WAV.

    Returns:
        ``(rate_hz, samples)`` with samples shaped ``(frames, channels)``.

    Raises:
        RecordingError: unreadable file or an encoding other than PCM16 / μ-law.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecordingError(f"cannot read {path}: {exc}") from exc
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise RecordingError(f"{path} is not a WAV file")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(raw):
        cid, size = struct.unpack("<4sI", raw[pos : pos + 8])
        body = raw[pos + 8 : pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _FORMAT_EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise RecordingError(f"{path}: data chunk before fmt chunk")
            tag, channels, rate, bits = fmt
            if tag == _FORMAT_PCM and bits == 16:
                usable = len(body) // (2 * channels) * 2 * channels
                pcm = np.frombuffer(body[:usable], dtype="<i2").astype(np.int16)
            elif tag == _FORMAT_MULAW and bits == 8:
                usable = len(body) // channels * channels
                pcm = ulaw2lin(body[:usable])
            else:
                raise RecordingError(
                    f"{path}: format tag {tag} with {bits} bits; use 16-bit PCM or 8-bit μ-law"
                )
            return rate, pcm.reshape(-1, channels)
        pos += 8 + size + (size & 1)
    raise RecordingError(f"{path} has no data chunk")
