"""Train the next-steps commitment classifier and write its weights into the package.

Reads the ``train`` split of ``bench/data/insights/sentences.jsonl`` (see
``bench/make_sentences.py``), reads each sentence as the extractor does (its first clause
with an actor and an action, :mod:`callscope.insights.clauses`), and fits two L2-regularised
logistic regressions by Newton's method: ``full`` on [MiniLM embedding, frame features] and
``frames`` on the frame features alone. Writes ``src/callscope/insights/data/commitments.npz``
and prints accuracy, precision and recall on the held-out ``test`` split (never used to fit or
to choose anything).

Run: ``python bench/train_commitments.py`` (a few seconds).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callscope.insights.clauses import Clause, Frame, clauses, frame
from callscope.insights.commitments import frame_features, weights_path
from callscope.insights.embeddings import MiniLM

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "insights" / "sentences.jsonl"
L2 = 1.0
THRESHOLD = 0.5


def read(row: dict[str, Any]) -> tuple[Clause, Frame]:
    """The clause the extractor would judge in this sentence (the first candidate)."""
    parts = clauses(row["text"], row["speaker"])
    for c in parts:
        f = frame(c)
        if f.candidate:
            return c, f
    return parts[0], frame(parts[0])


def fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[Any, float]:
    """Logistic regression with an L2 penalty (not on the bias), Newton iterations."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.full(xb.shape[1], L2)
    reg[-1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(xb @ w)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg) + 1e-6 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1], float(w[-1])


def report(name: str, p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> None:
    pred = p >= THRESHOLD
    tp = int((pred & (y == 1)).sum())
    precision = tp / max(1, int(pred.sum()))
    recall = tp / max(1, int((y == 1).sum()))
    accuracy = float((pred == (y == 1)).mean())
    print(f"  {name:<7} accuracy {accuracy:.3f}  precision {precision:.3f}  recall {recall:.3f}")


def main() -> None:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    embed = MiniLM()
    sets: dict[str, tuple[Any, Any, Any]] = {}
    for split in ("train", "test"):
        part = [r for r in rows if r["split"] == split]
        read_ = [read(r) for r in part]
        emb = embed([c.text for c, _ in read_]).astype(np.float64)
        fr = frame_features([f for _, f in read_], [r["speaker"] for r in part]).astype(np.float64)
        y = np.array([r["label"] for r in part], dtype=np.float64)
        sets[split] = (np.hstack([emb, fr]), fr, y)
    full_w, full_b = fit(sets["train"][0], sets["train"][2])
    frames_w, frames_b = fit(sets["train"][1], sets["train"][2])
    out = weights_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        out,
        full_w=full_w.astype(np.float32),
        full_b=np.float32(full_b),
        frames_w=frames_w.astype(np.float32),
        frames_b=np.float32(frames_b),
        threshold=np.float32(THRESHOLD),
    )
    print(f"wrote {out.relative_to(ROOT)} ({out.stat().st_size} bytes)")
    for split in ("train", "test"):
        x, fr, y = sets[split]
        print(f"{split} ({len(y)} sentences, {int(y.sum())} commitments)")
        report("full", 1 / (1 + np.exp(-(x @ full_w + full_b))), y)
        report("frames", 1 / (1 + np.exp(-(fr @ frames_w + frames_b))), y)


if __name__ == "__main__":
    main()
