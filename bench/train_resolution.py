"""Fit the resolution highlight's weights and write them into the package.

Reads the dev calls of ``bench/data/insights/calls/dev/`` (never the test split), runs each
through the analyzers as ``bench/insights.py`` does — from the script text and, with
``--asr``, from the recogniser's output (rendered and transcribed on demand, cached next to
the audio) — and takes every resolution candidate (:func:`callscope.insights.summary.
resolution_candidates`: the agent's sentences after the problem, with their features). A
candidate is positive when its utterance overlaps the call's gold resolution turn. Fits an
L2-regularised logistic regression by Newton's method on every candidate, a call marked
``written_blind`` (written by an author who never saw the rules) at weight 1 and the older
calls (written by people who knew them) at ``--older-weight`` (default 0.5): the two groups
put the resolution in different places (the blind authors on the turn where the plan that
settles the problem is given, the older ones on the agent's first act, see the data
README), and a model fitted on the blind calls alone picks paperwork ("I'm sending you a
confirmation email now") in the older ones. The highlight is the candidate with the highest
score, so only the ranking within a call matters. Writes
``src/callscope/insights/data/resolution.json``.

Before writing it prints, per source and per group (blind, older), how often the chosen
candidate is in the gold turn, as the product chooses it: with the weights fitted on every
call (what ships) and leave-one-call-out (each call judged by weights fitted on the others,
its script and recogniser versions both left out: how the weights generalise beyond the
calls they were fitted on; the untuned test split of ``bench/insights.py`` is the real
measure). ``--check`` prints the same for the shipped weights and writes nothing.
Deterministic: the same calls give the same weights.

Run: ``python bench/train_resolution.py [--asr] [--check]`` (seconds; minutes with ``--asr``
the first time, while the calls are rendered and transcribed).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import logistic_fit
from callscope.insights.embeddings import MiniLM
from callscope.insights.nextsteps import next_steps
from callscope.insights.resolution import (
    FEATURES,
    ResolutionModel,
    load_model,
    weights_path,
)
from callscope.insights.summary import resolution_candidates
from callscope.insights.types import Embedder, Sentence, Utterance, sentences
from insights import from_asr, from_script
from render_calls import OUT, render, scripts

L2 = 1.0
#: how much an older call (written knowing the rules) weighs against one written blind
OLDER_WEIGHT = 0.5

Matrix = npt.NDArray[np.float64]


class Call(NamedTuple):
    name: str
    blind: bool  # written blind to the rules: fitted on
    x: Matrix  # one row of FEATURES per candidate
    y: Matrix  # 1: the candidate is in the gold turn
    fallback: int | None  # the agent's first act, chosen when no candidate speaks


def call_rows(
    name: str, blind: bool, utterances: list[Utterance], gold: list[Utterance], embed: Embedder
) -> Call:
    """One call's resolution candidates."""

    def in_gold(s: Sentence) -> bool:
        return any(s.utterance.start < g.end and s.utterance.end > g.start for g in gold)

    sents = sentences(utterances)
    steps = next_steps(utterances, embed=embed)
    found = resolution_candidates(sents, steps)
    x = np.array(found.rows, dtype=np.float64).reshape(len(found.rows), len(FEATURES))
    y = np.array([float(in_gold(s)) for s in found.sentences], dtype=np.float64)
    return Call(name, blind, x, y, found.fallback)


def hit(model: ResolutionModel, call: Call) -> bool:
    """Whether the highlight chosen as the product chooses it is in the gold turn."""
    best = model.best([list(row) for row in call.x])
    if best is None:
        best = call.fallback
    return best is not None and bool(call.y[best] > 0)


def fit_calls(calls: list[Call], older: float = OLDER_WEIGHT) -> ResolutionModel:
    """Weights fitted on the calls, the older ones (not written blind) weighing ``older``."""
    used = [c for c in calls if len(c.x) and (c.blind or older > 0)]
    w8 = np.concatenate([np.full(len(c.y), 1.0 if c.blind else older) for c in used])
    w, b = logistic_fit(np.vstack([c.x for c in used]), np.concatenate([c.y for c in used]), L2, w8)
    return ResolutionModel(tuple(round(float(v), 4) for v in w), round(b, 4))


def report(
    name: str, calls: list[Call], model: ResolutionModel, every: list[Call], older_weight: float
) -> None:
    def share(group: list[Call], hits: int) -> str:
        return f"{hits}/{len(group)} ({hits / max(len(group), 1):.2f})"

    for label, group in (
        ("blind", [c for c in calls if c.blind]),
        ("older", [c for c in calls if not c.blind]),
    ):
        fitted = sum(hit(model, c) for c in group)
        held = sum(
            hit(fit_calls([o for o in every if o.name != c.name], older_weight), c) for c in group
        )
        print(
            f"  {name:<7} {label} calls, resolution in the gold turn: {share(group, fitted)} "
            f"with these weights, {share(group, held)} leave-one-call-out"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asr", action="store_true", help="also fit on the recogniser's output")
    parser.add_argument("--check", action="store_true", help="report the shipped weights only")
    parser.add_argument("--audio-dir", type=Path, default=OUT)
    parser.add_argument(
        "--older-weight",
        type=float,
        default=OLDER_WEIGHT,
        help="weight of a call not written blind to the rules (default %(default)s; 0: blind only)",
    )
    args = parser.parse_args()
    embed = MiniLM()
    by_source: dict[str, list[Call]] = {"script": []}
    if args.asr:
        by_source["asr"] = []
    for path in scripts("dev"):
        script: dict[str, Any] = json.loads(path.read_text())
        gold_turns = [i for i, t in enumerate(script["turns"]) if t.get("resolution")]
        timed = script
        sources = {}
        if args.asr:
            wav = render(path, args.audio_dir)
            timed = json.loads(wav.with_suffix(".json").read_text())
            sources["asr"] = from_asr(wav)
        script_utts = from_script(timed)
        sources = {"script": script_utts, **sources}
        gold = [script_utts[i] for i in gold_turns]
        for source, utterances in sources.items():
            blind = bool(script.get("written_blind"))
            by_source[source].append(call_rows(script["id"], blind, utterances, gold, embed))
    every = [c for calls in by_source.values() for c in calls]
    model = load_model() if args.check else fit_calls(every, args.older_weight)
    blind = sum(c.blind for c in by_source["script"])
    print(
        f"{len(by_source['script'])} dev calls ({blind} written blind), "
        f"sources: {', '.join(by_source)}"
    )
    for name, value in zip(FEATURES, model.weights, strict=True):
        print(f"  {name:<16} {value:+.3f}")
    print(f"  {'bias':<16} {model.bias:+.3f}")
    for source, calls in by_source.items():
        report(source, calls, model, every, args.older_weight)
    if args.check:
        return
    body = {
        "features": list(FEATURES),
        "weights": list(model.weights),
        "bias": model.bias,
        "fitted_on": (
            f"{len(by_source['script'])} dev calls, the {blind} written blind to the rules at "
            f"weight 1, the others at {args.older_weight:g} ({', '.join(by_source)})"
        ),
    }
    weights_path().write_text(json.dumps(body, indent=1) + "\n")
    print(f"wrote {weights_path()}")


if __name__ == "__main__":
    main()
