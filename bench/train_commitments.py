"""Train the next-steps commitment classifier and write its weights into the package.

Reads the ``train`` split of ``bench/data/insights/sentences.jsonl`` (see
``bench/make_sentences.py``), reads each sentence as the extractor does (its first clause
with an actor and an action, :mod:`callscope.insights.clauses`), and fits two L2-regularised
logistic regressions by Newton's method: ``full`` on [MiniLM embedding, frame features] and
``frames`` on the frame features alone. Writes ``src/callscope/insights/data/commitments.npz``
and prints accuracy, precision and recall on the held-out ``test`` split (never used to fit or
to choose anything), as written and with recogniser-like slips.

Each training sentence is also learnt in a second, **misheard** form (:func:`misheard`), as a
small recogniser gives it on telephone audio: about a quarter of its content words (not the
pronouns, auxiliaries, negations, conjunctions or listed action verbs that make the frame)
replaced by another word of the set of about the same length and the same first letter (a
real word, wrong: what whisper writes), commas dropped and all in lower case half the time.
Seeded by the sentence's CRC-32: the same data always gives the same weights.

``--check`` reports the shipped weights on the held-out split without training or writing
anything. ``--folds K`` estimates how the classifier generalises beyond its own training
sentences: K-fold cross-validation over the ``train`` split (a sentence and its misheard copy
always in the same fold; seeded), each fold judged by weights fitted on the others; nothing is
written. The scripted calls of ``bench/data/insights/calls/`` are never trained on, so the
figures of ``bench/insights.py`` are already held out from the classifier (not from the rules,
which were tuned on the dev calls).

Run: ``python bench/train_commitments.py [--check | --folds K]`` (a few seconds).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from benchlib import logistic_fit
from callscope.insights.clauses import Clause, Frame, clauses, frame
from callscope.insights.commitments import frame_features, weights_path
from callscope.insights.embeddings import MiniLM
from callscope.insights.verbs import base_form

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


#: words that make a clause's frame: never replaced in the misheard copies
_FRAME_WORD_LIST = """i i'll i'm i've i'd we we'll we're we've you you'll you're your yours
    they they'll he she
    it it'll it's the a an to of and or but so if once when as soon until by will would could
    should can can't won't don't not never no please just also now then is are was were be been
    have has had going do does did let me my our us their them this that for with on in at"""
_FRAME_WORDS = frozenset(_FRAME_WORD_LIST.split())


def misheard(text: str, vocabulary: list[str]) -> str:
    """``text`` as a small recogniser might write it (see the module docstring)."""
    rng = random.Random(zlib.crc32(text.encode()))
    words = text.split()
    slots = [
        i
        for i, w in enumerate(words)
        if (core := re.sub(r"[^a-z']", "", w.lower())) not in _FRAME_WORDS
        and base_form(core) is None
        and len(core) >= 3
        and not any(ch.isdigit() for ch in w)
    ]
    for i in rng.sample(slots, k=max(1, len(slots) // 4)) if slots else []:
        core = re.sub(r"[^A-Za-z']", "", words[i])
        alike = [
            v
            for v in vocabulary
            if v[:1] == core[:1].lower() and abs(len(v) - len(core)) <= 1 and v != core.lower()
        ]
        if alike:
            words[i] = words[i].replace(core, rng.choice(alike))
    out = " ".join(words)
    if rng.random() < 0.5:
        out = out.replace(",", "").lower()
    return out


def vocabulary_of(rows: list[dict[str, Any]]) -> list[str]:
    """The content words of the sentence set, sorted (for :func:`misheard`)."""
    words = {w for r in rows for w in re.findall(r"[a-z]{3,}", r["text"].lower())}
    return sorted(w for w in words if w not in _FRAME_WORDS and base_form(w) is None)


def fit(x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[Any, float]:
    """Logistic regression with an L2 penalty (not on the bias), Newton iterations."""
    return logistic_fit(x, y, L2)


def figures(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    """(accuracy, precision, recall) at :data:`THRESHOLD`."""
    pred = p >= THRESHOLD
    tp = int((pred & (y == 1)).sum())
    precision = tp / max(1, int(pred.sum()))
    recall = tp / max(1, int((y == 1).sum()))
    return float((pred == (y == 1)).mean()), precision, recall


def report(name: str, p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> None:
    accuracy, precision, recall = figures(p, y)
    print(f"  {name:<7} accuracy {accuracy:.3f}  precision {precision:.3f}  recall {recall:.3f}")


Features = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def featurise(part: list[dict[str, Any]], embed: MiniLM) -> Features:
    """([embedding, frame features], frame features, labels) of sentences read as the
    extractor reads them."""
    read_ = [read(r) for r in part]
    emb = embed([c.text for c, _ in read_]).astype(np.float64)
    fr = frame_features([f for _, f in read_], [r["speaker"] for r in part]).astype(np.float64)
    y = np.array([r["label"] for r in part], dtype=np.float64)
    return np.hstack([emb, fr]), fr, y


def sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = 1 / (1 + np.exp(-z))
    return out


def cross_validate(
    train: list[dict[str, Any]], heard: list[dict[str, Any]], embed: MiniLM, k: int
) -> None:
    """K-fold figures over the train split (see the module docstring)."""
    x, fr, y = featurise(train, embed)
    hx, hfr, hy = featurise(heard, embed)
    order = list(range(len(train)))
    random.Random(7).shuffle(order)
    fold = np.empty(len(train), dtype=int)
    for n, i in enumerate(order):
        fold[i] = n % k
    pooled: dict[str, list[npt.NDArray[np.float64]]] = {}
    for f in range(k):
        fit_on, held = fold != f, fold == f
        xs, ys = np.vstack([x[fit_on], hx[fit_on]]), np.concatenate([y[fit_on], hy[fit_on]])
        frs = np.vstack([fr[fit_on], hfr[fit_on]])
        full_w, full_b = fit(xs, ys)
        frames_w, frames_b = fit(frs, ys)
        for name, p in (
            ("full", sigmoid(x[held] @ full_w + full_b)),
            ("frames", sigmoid(fr[held] @ frames_w + frames_b)),
            ("full misheard", sigmoid(hx[held] @ full_w + full_b)),
        ):
            pooled.setdefault(name, []).append(p)
    truth = np.concatenate([y[fold == f] for f in range(k)])
    print(f"{k}-fold over train ({len(train)} sentences, {int(y.sum())} commitments)")
    for name, ps in pooled.items():
        report(name, np.concatenate(ps), truth)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="the shipped weights, held out")
    mode.add_argument("--folds", type=int, metavar="K", help="K-fold figures, nothing written")
    args = parser.parse_args()
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    embed = MiniLM()
    vocabulary = vocabulary_of([r for r in rows if r["split"] == "train"])
    heard = [{**r, "text": misheard(r["text"], vocabulary)} for r in rows]
    if args.folds:
        train = [r for r in rows if r["split"] == "train"]
        cross_validate(train, [h for h in heard if h["split"] == "train"], embed, args.folds)
        return
    sets: dict[str, Features] = {}
    for split in ("train", "test", "test misheard"):
        if split == "train":
            part = [r for r in rows if r["split"] == "train"]
            part += [r for r in heard if r["split"] == "train"]
        elif split == "test":
            part = [r for r in rows if r["split"] == "test"]
        else:
            part = [r for r in heard if r["split"] == "test"]
        sets[split] = featurise(part, embed)
    out = weights_path()
    if args.check:
        shipped = np.load(out)
        full_w, full_b = shipped["full_w"].astype(np.float64), float(shipped["full_b"])
        frames_w, frames_b = shipped["frames_w"].astype(np.float64), float(shipped["frames_b"])
        print(f"shipped weights {out.relative_to(ROOT)} (not retrained)")
    else:
        full_w, full_b = fit(sets["train"][0], sets["train"][2])
        frames_w, frames_b = fit(sets["train"][1], sets["train"][2])
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
    for split in ("train", "test", "test misheard"):
        x, fr, y = sets[split]
        print(f"{split} ({len(y)} sentences, {int(y.sum())} commitments)")
        report("full", sigmoid(x @ full_w + full_b), y)
        report("frames", sigmoid(fr @ frames_w + frames_b), y)


if __name__ == "__main__":
    main()
