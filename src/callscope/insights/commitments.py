"""Is this clause a commitment? A logistic regression over the clause's sentence embedding
(the packaged MiniLM, :mod:`callscope.insights.embeddings`) and a few frame features
(:mod:`callscope.insights.clauses`), with weights shipped in the package
(``insights/data/commitments.npz``, trained by ``bench/train_commitments.py`` on the ``train``
split of ``bench/data/insights/sentences.jsonl``).

Two weight sets ship: ``full`` (embedding + frame features) and ``frames`` (frame features
only), used when the sentence model is off or failed to load.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError
from callscope.insights.clauses import Frame

__all__ = ["FRAME_FEATURES", "CommitmentModel", "frame_features", "load_model"]

Embedder = Callable[[Sequence[str]], npt.NDArray[np.float32]]

KINDS = ("future", "progressive", "past", "third", "instruction")
FLAGS = (
    "conditional", "negated", "question", "hypothetical", "in_call", "complaint", "consequence",
    "open_actor",
)  # fmt: skip
#: the frame features, in the order the weights expect
FRAME_FEATURES = (*(f"kind:{k}" for k in KINDS), *FLAGS, "deadline", "speaker:customer")


def frame_features(frames: Sequence[Frame], speakers: Sequence[str]) -> npt.NDArray[np.float32]:
    """One row of :data:`FRAME_FEATURES` (0/1) per clause."""
    rows = [
        [float(f.kind == k) for k in KINDS]
        + [float(getattr(f, flag)) for flag in FLAGS]
        + [float(bool(f.deadline)), float(speaker == "customer")]
        for f, speaker in zip(frames, speakers, strict=True)
    ]
    return np.array(rows, dtype=np.float32).reshape(len(rows), len(FRAME_FEATURES))


class CommitmentModel:
    """The shipped logistic regressions; :meth:`probability` picks the one the inputs allow."""

    def __init__(self, path: Path) -> None:
        try:
            data = np.load(path)
        except OSError as exc:
            raise ConfigError(f"commitment classifier weights unreadable: {path}: {exc}") from exc
        self.full_w: npt.NDArray[np.float32] = data["full_w"]
        self.full_b = float(data["full_b"])
        self.frames_w: npt.NDArray[np.float32] = data["frames_w"]
        self.frames_b = float(data["frames_b"])
        self.threshold = float(data["threshold"])
        if self.frames_w.shape != (len(FRAME_FEATURES),):
            raise ConfigError(f"commitment classifier weights do not match this version: {path}")

    def probability(
        self,
        texts: Sequence[str],
        frames: Sequence[Frame],
        speakers: Sequence[str],
        embed: Embedder | None,
    ) -> npt.NDArray[np.float64]:
        """P(commitment) per clause; with ``embed`` the full model, else frames only."""
        if not texts:
            return np.zeros(0)
        feats = frame_features(frames, speakers)
        if embed is not None:
            x = np.hstack([embed(list(texts)), feats])
            z = x @ self.full_w + self.full_b
        else:
            z = feats @ self.frames_w + self.frames_b
        out: npt.NDArray[np.float64] = 1.0 / (1.0 + np.exp(-z.astype(np.float64)))
        return out


def weights_path() -> Path:
    return Path(str(files("callscope.insights") / "data" / "commitments.npz"))


@functools.cache
def load_model() -> CommitmentModel:
    """The packaged classifier (loaded once; only read afterwards)."""
    return CommitmentModel(weights_path())
