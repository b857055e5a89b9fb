"""Insights evaluation: next steps, highlights and summary facts on scripted calls, from the
script text and from the recogniser's output, and time per call.

Issue targets (not tests), on the untuned ``test`` split: NextSteps precision and recall
≥ 0.85 from the script text and ≥ 0.8 from ASR output; highlights recall of problem +
resolution ≥ 0.8; every summary entity grounded in the transcript.

What it does
------------
Calls: ``bench/data/insights/calls/{dev,test}/*.json`` (``--split``; dev is what the
extractor was tuned on, test is not). Each is run through the offline analyzers twice: on
the script's own turns (what a perfect recogniser would give) and on ``callscope transcribe``
of its audio (the packaged whisper tiny.en, as live calls get; the audio is rendered on
demand by ``bench/render_calls.py``; the transcript is kept next to the WAV as
``<id>.asr.json`` and reused while the audio and the callscope version are the same — delete
it to transcribe again). ``--no-asr`` skips the second.

* **NextSteps**: steps found are matched one to one to the gold steps: same owner (agent,
  customer, third party) and at least half of the shorter side's content words (stop words
  dropped, plural ``s`` cut, spoken numbers as digits: the steps write "within 48 hours" where
  gold says "within forty-eight hours") in the other. Precision = matched ÷ found; recall =
  matched ÷ gold. Each call prints its OK / FP / MISS lines.
* **Highlights**: the problem and resolution highlights must point at the gold turn (script:
  the same utterance; ASR: an utterance overlapping the gold turn's time). Recall over both;
  each call prints a found (OK) or missed (MISS, with what was chosen) line per gold turn.
* On the dev split, the calls marked ``written_blind`` (their authors never saw the rules) are
  also totalled on their own (``script blind``, ``asr blind``): the older calls' resolution
  labels follow the rules their authors knew.
* **Summary**: entities in the summary that do not occur in the transcript (must be none);
  and, for information, how many of the call's gold facts (``entities``) the summary names,
  as written and with spoken numbers as digits on both sides, case, spaces and punctuation
  ignored (``facts, digits``: the recogniser writes "42 pounds" where the script has
  "forty-two pounds").
* ``--llm URL [--llm-model M] [--llm-key K]``: the optional LLM backend on the same calls
  (owner is not asked of the model: steps match on text alone), with the same figures.

Time: the analyzers (embeddings on, one thread) on a 5-minute transcript made by repeating
each call's turns to 300 s.

Run: ``python bench/insights.py [--split test|dev|all] [--no-asr] [--llm URL]``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

sys.path.insert(0, str(Path(__file__).parent))
from benchlib import pin
from callscope.insights.analyzers import Analysis, Utterance, analyze
from callscope.insights.embeddings import MiniLM
from callscope.insights.numbers import spoken_numbers
from callscope.insights.summary import entities, grounded
from render_calls import CALLS, OUT, render, scripts

#: words that carry no content for matching a step to a gold step
_STOP_WORDS = """a an the to of for and or in on at by with your my our their his her its is
are was be will i we you me us it this that now today right then also new customer
customer's about from they them agent"""
STOP = frozenset(_STOP_WORDS.split())


#: words for the same act: callscope writes "call" where gold may say "ring" or "phone"
_SAME_ACT: Final = {"ring": "call", "phone": "call", "rang": "call", "phoned": "call"}


def content(text: str) -> set[str]:
    """The content words of ``text``, spoken numbers as digits ("within forty-eight hours" and
    the step's "within 48 hours" share "48"), a word's "'s" dropped ("the new machine's up"
    and "the machine is working" share "machine"), "ring" and "phone" read as "call"."""
    words = [
        _SAME_ACT.get(w, w)
        for w in (
            w.removesuffix("'s").strip("'")
            for w in re.findall(r"[a-z0-9']+", spoken_numbers(text).lower())
        )
    ]
    return {w.rstrip("s") if len(w) > 3 else w for w in words if w not in STOP}


def overlap(step: str, item: str) -> float:
    """Shared content words over the shorter step's (0 when either has none)."""
    a, b = content(step), content(item)
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def plain(text: str) -> str:
    """``text`` with spoken numbers as digits, lower case, letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", spoken_numbers(text).lower())


def matches(step: str, item: str) -> bool:
    return overlap(step, item) >= 0.5


def score(
    found: list[tuple[str, str]], gold: list[tuple[str, str]], *, owners: bool = True
) -> tuple[list[tuple[bool, str, str]], list[tuple[str, str]]]:
    """One-to-one matching of (owner, text) pairs: ([(hit, owner, text) per found], missed).

    Pairs are taken best overlap first, so a short step ("Email the certificate to the
    customer") cannot take a gold step that a closer one matches better."""
    pairs = sorted(
        (
            (-overlap(text, gold_text), i, j)
            for i, (owner, text) in enumerate(found)
            for j, (gold_owner, gold_text) in enumerate(gold)
            if (not owners or gold_owner == owner) and matches(text, gold_text)
        ),
    )
    hit_of: dict[int, int] = {}
    taken: set[int] = set()
    for _, i, j in pairs:
        if i not in hit_of and j not in taken:
            hit_of[i] = j
            taken.add(j)
    lines = [(i in hit_of, owner, text) for i, (owner, text) in enumerate(found)]
    return lines, [g for j, g in enumerate(gold) if j not in taken]


def from_script(script: dict[str, Any]) -> list[Utterance]:
    out = []
    t = 0.6
    for i, turn in enumerate(script["turns"]):
        start = float(turn.get("start", t))
        end = float(turn.get("end", start + 0.07 * len(turn["text"])))
        out.append(Utterance(i, turn["speaker"], turn["speaker"], start, end, turn["text"]))
        t = end + 0.6
    return out


def transcribe_cached(audio: Path) -> dict[str, Any]:
    """``callscope transcribe`` of ``audio``, kept next to it as ``<id>.asr.json`` with the
    audio's SHA-256 and the callscope version: a rerun reads it back unless either changed
    (whisper decodes greedily, so the same audio gives the same words)."""
    from callscope import __version__

    cache = audio.with_suffix(".asr.json")
    key = {"sha256": hashlib.sha256(audio.read_bytes()).hexdigest(), "version": __version__}
    if cache.exists():
        stored = json.loads(cache.read_text())
        if stored.get("key") == key:
            return dict(stored["body"])
    out = subprocess.run(
        [sys.executable, "-m", "callscope", "transcribe", str(audio), "--quiet"],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    )
    body: dict[str, Any] = json.loads(out.stdout)
    cache.write_text(json.dumps({"key": key, "body": body}))
    return body


def from_asr(audio: Path) -> list[Utterance]:
    body = transcribe_cached(audio)
    return [
        Utterance(
            i, u["speaker"], u["speaker"], u["start_ms"] / 1000, u["end_ms"] / 1000, u["text"]
        )
        for i, u in enumerate(body["utterances"])
    ]


def gold_of(script: dict[str, Any]) -> tuple[list[tuple[str, str]], dict[str, list[int]]]:
    steps = [(s["owner"], s["text"]) for t in script["turns"] for s in t.get("steps", [])]
    marks = {
        kind: [i for i, t in enumerate(script["turns"]) if t.get(kind)]
        for kind in ("problem", "resolution")
    }
    return steps, marks


def highlight_hits(
    highlights: list[dict[str, Any]],
    marks: dict[str, list[int]],
    timed: list[Utterance],
) -> tuple[int, int, list[str]]:
    """(gold problem/resolution turns pointed at, gold turns, a found/missed line per gold
    turn): a highlight points at a gold turn when its utterance overlaps that turn's time."""
    hit = total = 0
    lines = []
    for kind, turns in marks.items():
        of_kind = [h for h in highlights if h["kind"] == kind]
        chosen = of_kind[0] if of_kind else None
        for i in turns:
            total += 1
            gold = timed[i]
            near = [h for h in of_kind if h["start"] < gold.end and h["end"] > gold.start]
            if near:
                hit += 1
                lines.append(f"OK   {kind:<11} {near[0]['value']}")
                continue
            got = f"{chosen['value']!r} at {chosen['start']:.1f} s" if chosen else "nothing"
            lines.append(f"MISS {kind:<11} turn {i} at {gold.start:.1f} s; chose {got}")
    return hit, total, lines


class Totals:
    def __init__(self) -> None:
        self.figures: dict[str, list[int]] = {}

    def add(self, key: str, *values: int) -> None:
        row = self.figures.setdefault(key, [0] * len(values))
        for i, v in enumerate(values):
            row[i] += v


def ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def evaluate(
    name: str,
    source: str,
    utterances: list[Utterance],
    timed: list[Utterance],
    script: dict[str, Any],
    result: Analysis,
    totals: Totals,
    *,
    owners: bool = True,
) -> None:
    gold, marks = gold_of(script)
    lines, missed = score([(s.owner, s.value) for s in result.next_steps], gold, owners=owners)
    hits = sum(1 for ok, _, _ in lines if ok)
    h_hit, h_total, h_lines = highlight_hits(result.highlights, marks, timed)
    transcript = " ".join(u.text for u in utterances)
    ungrounded = grounded(result.summary, transcript)
    said = {e.lower() for e in entities(result.summary)} | {result.summary.lower()}
    facts = [f for f in script.get("entities", []) if any(f.lower() in s for s in said)]
    plain_said = {plain(s) for s in said}
    digits = [f for f in script.get("entities", []) if any(plain(f) in s for s in plain_said)]
    totals.add(source, hits, len(lines), len(gold), h_hit, h_total, len(ungrounded))
    if script.get("written_blind"):  # dev calls whose authors never saw the rules
        totals.add(f"{source} blind", hits, len(lines), len(gold), h_hit, h_total, len(ungrounded))
    totals.add(f"{source} facts", len(facts), len(script.get("entities", [])))
    totals.add(f"{source} facts, digits", len(digits), len(script.get("entities", [])))
    print(
        f"{name} [{source}] steps P {ratio(hits, len(lines))} R {ratio(hits, len(gold))}; "
        f"highlights {h_hit}/{h_total}; ungrounded {ungrounded or 'none'}"
    )
    for ok, owner, text in lines:
        print(f"    {'OK  ' if ok else 'FP  '} {owner:<11} {text}")
    for owner, text in missed:
        print(f"    MISS {owner:<11} {text}")
    for line in h_lines:
        print(f"    highlight {line}")
    print(f"    summary: {result.summary}")


def llm_analysis(client: Any, utterances: list[Utterance], base: Analysis) -> Analysis:
    improved, error, _ = asyncio.run(client.insights(utterances))
    if improved is None:
        print(f"    LLM failed: {error}")
        return base
    from callscope.insights.types import NextStep

    steps = [
        NextStep("", u.party_id, text, text, u.start, u.end, u.id, "llm", 1.0)
        for u, text in improved.next_steps
    ]
    marks = [
        {"kind": k, "start": u.start, "end": u.end, "value": t}
        for (u, t) in improved.highlights
        for k in ("problem", "resolution")
    ]
    return Analysis(steps, marks, improved.summary, {}, {}, [], {})


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="test")
    parser.add_argument("--no-asr", action="store_true", help="script text only")
    parser.add_argument("--audio-dir", type=Path, default=OUT)
    parser.add_argument("--llm", metavar="URL", help="also evaluate an OpenAI-compatible LLM")
    parser.add_argument("--llm-model", default="gpt-4o-mini")
    parser.add_argument("--llm-key", default=os.environ.get("CALLSCOPE_INSIGHTS_LLM_KEY", ""))
    args = parser.parse_args()
    calls = scripts(args.split)
    if not calls:
        # calls/test/ is emptied when its calls move to dev and refilled by a fresh split
        sys.exit(
            f"no calls in split {args.split!r}: {CALLS / args.split}/ is empty or missing "
            "(the test split is refilled with new, untuned calls; try --split dev)"
        )
    pin(os.getpid(), 0)
    t0 = time.monotonic()
    embed = MiniLM()
    load_s = time.monotonic() - t0
    client = None
    if args.llm:
        from callscope.insights.llm import LlmClient

        client = LlmClient(args.llm, args.llm_model, args.llm_key)
    totals = Totals()
    timings = []
    for path in calls:
        script = json.loads(path.read_text())
        timed = script
        sources: dict[str, list[Utterance]] = {}
        if not args.no_asr:
            wav = render(path, args.audio_dir)
            timed = json.loads(wav.with_suffix(".json").read_text())
            sources["asr"] = from_asr(wav)
        script_utts = from_script(timed)
        sources = {"script": script_utts, **sources}
        for source, utterances in sources.items():
            result = analyze(utterances, float(timed.get("duration_s", 60.0)), embed=embed)
            evaluate(script["id"], source, utterances, script_utts, script, result, totals)
            if client is not None:
                llm = llm_analysis(client, utterances, result)
                evaluate(
                    script["id"], f"{source} llm", utterances, script_utts, script, llm, totals,
                    owners=False,
                )  # fmt: skip
        long = five_minutes(sources.get("asr", script_utts), float(timed.get("duration_s", 60)))
        t1 = time.monotonic()
        analyze(long, 300.0, embed=embed)
        timings.append((script["id"], len(long), time.monotonic() - t1))
    print(f"\nsplit {args.split}: {len(calls)} calls")
    for key, row in totals.figures.items():
        if key.endswith(("facts", "facts, digits")):
            print(f"  {key:<18} gold facts named in the summary {row[0]}/{row[1]}")
            continue
        hit, found, gold, h_hit, h_total, ungrounded = row
        print(
            f"  {key:<18} NextSteps precision {ratio(hit, found)} recall {ratio(hit, gold)} "
            f"({hit}/{found} found, {gold} gold); highlights recall {ratio(h_hit, h_total)}; "
            f"ungrounded summary entities {ungrounded}"
        )
    print(f"\nembedding model load: {load_s:.2f} s (once per server)")
    worst = max(timings, key=lambda t: t[2])
    print(f"5-minute call, slowest ({worst[0]} ×, {worst[1]} utterances): {worst[2]:.2f} s")


if __name__ == "__main__":
    main()
