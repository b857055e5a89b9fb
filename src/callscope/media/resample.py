"""8 kHz → 16 kHz for recognisers trained on 16 kHz audio.

Zero-stuffing followed by a Kaiser-windowed sinc low-pass at 4 kHz (65 taps, β = 8): the
images above 4 kHz are removed (a naive repeat would alias them into the band whisper reads).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["upsample_2x"]

_TAPS = np.arange(-32, 33)
_KERNEL = (np.sinc(_TAPS / 2) * np.kaiser(len(_TAPS), 8.0)).astype(np.float32)
_KERNEL *= 2 / _KERNEL.sum()  # unity pass-band gain after zero-stuffing


def upsample_2x(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Double the sample rate of float audio (same length in time)."""
    y = np.zeros(2 * len(x), dtype=np.float32)
    y[::2] = x
    out: npt.NDArray[np.float32] = np.convolve(y, _KERNEL, mode="same").astype(np.float32)
    return out
