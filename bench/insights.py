"""Insights evaluation: next-steps precision and recall on the scripted calls, and time per call.

Issue targets: precision and recall ≥ 0.8 on the shared calls from ASR output; < 5 s per
5-minute call on one core.

What it does
------------
For every scripted call in ``--calls-dir`` (default ``../shared/data/calls``: ``*.json`` with
``turns`` and ``action_items``) it runs the offline analyzers twice: on the script's own turns
(the transcript a perfect recogniser would give) and on the real recogniser's output for the
call's audio (``callscope transcribe``: the packaged whisper tiny.en, as live calls get). Next
steps are matched to the script's action items one to one: a pair matches when at least half
of the shorter side's content words (stop words dropped, plural ``s`` cut) appear in the
other. Precision = matched steps ÷ steps found; recall = matched items ÷ action items. Each
variant runs with rules alone and with rules + the packaged sentence-embedding model.

Time: the analyzers (with embeddings, one thread) on a 5-minute transcript made by repeating
each call's turns to 300 s; the first call also shows the one-off model load.

Run: ``python bench/insights.py`` (about a minute: the ASR pass decodes every call once).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import pin
from callscope.insights.analyzers import NextStep, Utterance, analyze, next_steps
from callscope.insights.embeddings import MiniLM

ROOT = Path(__file__).resolve().parent.parent
#: words that carry no content for matching a step to an action item
_STOP_WORDS = """a an the to of for and or in on at by with your my our their his her its is
are was be will i we you me us it this that now today right then also new customer
customer's about from"""
STOP = frozenset(_STOP_WORDS.split())


def content(text: str) -> set[str]:
    words = re.findall(r"[a-z']+", text.lower())
    return {w.rstrip("s") if len(w) > 3 else w for w in words if w not in STOP}


def matches(step: str, item: str) -> bool:
    a, b = content(step), content(item)
    if not a or not b:
        return False
    return len(a & b) / min(len(a), len(b)) >= 0.5


def score(steps: list[NextStep], items: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(matched pairs, steps, items), each item and step used once."""
    free = list(range(len(items)))
    hit = 0
    for s in steps:
        for i in free:
            if matches(s.value, items[i]["text"]):
                free.remove(i)
                hit += 1
                break
    return hit, len(steps), len(items)


def from_script(script: dict[str, Any]) -> list[Utterance]:
    return [
        Utterance(i, t["speaker"], t["speaker"], float(t["start"]), float(t["end"]), t["text"])
        for i, t in enumerate(script["turns"])
    ]


def from_asr(audio: Path) -> list[Utterance]:
    out = subprocess.run(
        [sys.executable, "-m", "callscope", "transcribe", str(audio), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    body = json.loads(out.stdout)
    return [
        Utterance(
            i, u["speaker"], u["speaker"], u["start_ms"] / 1000, u["end_ms"] / 1000, u["text"]
        )
        for i, u in enumerate(body["utterances"])
    ]


def five_minutes(utterances: list[Utterance], length_s: float) -> list[Utterance]:
    out: list[Utterance] = []
    shift = 0.0
    while shift < 300:
        out += [
            Utterance(len(out) + i, u.speaker, u.speaker, u.start + shift, u.end + shift, u.text)
            for i, u in enumerate(utterances)
        ]
        shift += length_s
    return [u for u in out if u.end <= 300]


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls-dir", type=Path, default=ROOT.parent / "shared" / "data" / "calls")
    args = parser.parse_args()
    scripts = sorted(p for p in args.calls_dir.glob("*.json"))
    if not scripts:
        raise SystemExit(f"no scripted calls (*.json) in {args.calls_dir}")
    pin(os.getpid(), 0)
    t0 = time.monotonic()
    embed = MiniLM()
    load_s = time.monotonic() - t0
    totals: dict[str, list[int]] = {}
    print(f"{'call':<24} {'source':<7} {'method':<11} {'found':>5} {'items':>5} {'P':>5} {'R':>5}")
    timings = []
    for path in scripts:
        script = json.loads(path.read_text())
        items = script.get("action_items", [])
        sources = {"script": from_script(script), "asr": from_asr(path.parent / script["audio"])}
        for source, utterances in sources.items():
            for method, model in (("rules", None), ("rules+sim", embed)):
                steps = next_steps(utterances, embed=model)
                hit, found, n = score(steps, items)
                key = f"{source} {method}"
                t = totals.setdefault(key, [0, 0, 0])
                t[0] += hit
                t[1] += found
                t[2] += n
                print(
                    f"{path.stem:<24} {source:<7} {method:<11} {found:>5} {n:>5} "
                    f"{ratio(hit, found):>5} {ratio(hit, n):>5}"
                )
        long = five_minutes(sources["asr"], float(script["duration_s"]))
        t1 = time.monotonic()
        analyze(long, 300.0, embed=embed)
        timings.append((path.stem, len(long), time.monotonic() - t1))
    print("\nall calls")
    for key, (hit, found, n) in totals.items():
        print(f"  {key:<18} precision {ratio(hit, found)}  recall {ratio(hit, n)}")
    print(f"\nembedding model load: {load_s:.2f} s (once per server)")
    for name, n, seconds in timings:
        print(f"5-minute call ({name} ×, {n} utterances): {seconds:.2f} s on one core")


if __name__ == "__main__":
    main()
