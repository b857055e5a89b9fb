"""ASR: accuracy, final latency and capacity of the live transcription path (the worker pool).

Targets (issue): WER ≤ 5 % on the shared DEV set through the streaming path; final latency
p95 < 1.5 s; ≥ 10 concurrent calls (20 channels) per worker core, where a naive finals-only
transcriber (one whisper decode per segment) is said to manage 4–6.

Everything goes through :class:`callscope.transcription.pool.WorkerPool` exactly as a live
call does (worker subprocesses, VAD, scheduler, packed decodes), with no server and no
network: audio is fed in ``--chunk-ms`` chunks (what ``CallTranscript`` gathers, the
server's asr_send_ms) on a real-time schedule, and each chunk is stamped with the due time
of its first 20 ms block, as the server stamps it. The worker process is pinned to CPU 0
(every thread), this process to CPU 1. Latency of a final = the time its result is handed
to the sink here minus its ``ready_at`` (when the audio holding the end of speech arrived;
CLOCK_MONOTONIC is system-wide), so it includes VAD hangover (--hangover-ms), queueing, the
decode and the way back, and any lateness of this process's feeding schedule (reported; rows
where it matters are
flagged). Finals with empty text are not sent by the worker and so are not counted.

Phases (``--phases``, default all)
----------------------------------
wer       Each utterance of ``<data>/asr/manifest.jsonl`` becomes one mono stream: 0.5 s of
          digital silence + utterance + 1.5 s of silence, fed in real time. ``--wer-concurrency``
          streams run at once (started ``--wer-stagger`` s apart, longest utterances first), on
          one worker with finals only. Hypothesis = the stream's finals joined in start order;
          both sides go through ``<data>/asr/normalize.py``; corpus WER = word edits (Levenshtein)
          / reference words, overall and per kind, plus the five worst utterances.
call      The scripted stereo call ``<data>/calls/call_password_reset.wav`` (left = agent,
          right = customer) as one 2-channel stream at ``--call-speed``; WER per speaker
          against that speaker's turns joined. TTS voices: the README's reference for tiny.en is
          about 8 % agent / 30 % customer, so this is a smoke figure, not the accuracy target.
capacity  One worker pinned to one core; N concurrent copies of the scripted call (2 channels
          each, one stream per call, looped audio, each starting at a different point of the
          call unless ``--same-phase``), started over ``--stagger`` s, each streamed in real time
          for ``--capacity-seconds``, then closed and drained. Ramp ``--ramp`` (default
          4,8,…,24), finals only, once with packing (ours) and once with one decode per
          segment (naive, ``pack=False``) in the same run; ``--partials`` adds a run of ours
          with partials every 1 s. A mode stops ramping once a step is clearly overloaded.

Reading the capacity table
--------------------------
calls / ch       concurrent calls / channels (2 per call)
finals           finals with text received during the step (incl. the drain after close)
p50/p95/max      final latency, seconds
oldest           largest ``oldestPendingS`` seen in the worker's stats (sampled every 0.25 s,
                 the worker sends them every 0.5 s between decodes): age of the oldest final
                 waiting for a decode
cpu_%            worker process CPU (all threads) / wall, over the steady window (all N calls
                 streaming: from the last call's start to the first call's end)
RTF              worker CPU s / channel-audio s over the same window (2 channels per call)
pcs/dec          pieces per decode (segments packed into one whisper window)
partials         partials decoded / dropped (superseded, stale or shed) in the step
keeps up         p95 < 1.5 s, oldest pending ≤ 3 s, every stream drained, no audio dropped,
                 no worker failure. "calls per worker core" = the largest N that keeps up.

A note line under a row reports other load on either CPU (the machine may be shared; > 10 %
of a core is flagged) and lateness of this process's feeding (p99 > 50 ms is flagged).
At the end a Markdown summary is printed for the README. The script never judges timings
by its exit status: 0 = it ran; 1 = the pool or the data failed; 2 = bad arguments or data
missing; 130 = interrupted. ``--quick`` (a few utterances, the call at 4×, one 20 s capacity
step per mode) is a smoke run of a minute or two.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import math
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from benchlib import core_busy_seconds, counts, cpu_seconds, own_cpu_seconds, percentile, pin
from callscope.config import Settings
from callscope.errors import CallscopeError
from callscope.media.wav import read_wav
from callscope.metrics import Registry
from callscope.transcription.live import CHANNELS
from callscope.transcription.pool import PoolOptions, WorkerPool

RATE: Final = 8000
# CallTranscript gathers asr_send_ms of audio before it feeds the pool (--chunk-ms sets these)
CHUNK_S = 0.100
CHUNK_FRAMES = 800
BLOCK_S: Final = 0.020  # a chunk is stamped with the arrival of its first 20 ms block
LEAD_S: Final = 0.5
TAIL_S: Final = 1.5
KEEP_UP_P95_S: Final = 1.5
KEEP_UP_OLDEST_S: Final = 3.0
OVERLOAD_P95_S: Final = 3.0  # a step this far beyond the bar stops the ramp
OVERLOAD_OLDEST_S: Final = 6.0
DRAIN_TIMEOUT_S: Final = 60.0
STATS_POLL_S: Final = 0.25
LATE_FLAG_S: Final = 0.050
OTHER_FLAG_PCT: Final = 10.0
WORKER_CPU, BENCH_CPU = 0, 1
FULL_RAMP: Final = (4, 8, 12, 16, 20, 24)

Pcm16 = npt.NDArray[np.int16]
_T0 = time.monotonic()


def log(msg: str) -> None:
    """Progress, to stderr."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {msg}", file=sys.stderr, flush=True)


class DataError(Exception):
    """The shared data set is missing or malformed."""


# -- processes and CPUs ----------------------------------------------------------------------


def worker_pid(pool: WorkerPool) -> int:
    pids = pool.worker_pids()
    if not pids:
        raise RuntimeError("the transcription worker is not running")
    return pids[0]


def latest_stats(pool: WorkerPool) -> dict[str, Any]:
    stats = pool.worker_stats()
    return stats[0] if stats else {}


# -- data ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pcm:
    """Interleaved audio, ``(frames, channels)``, with one chunk wrapped around at the end so
    a chunk can be sliced from any position of the looped audio."""

    samples: Pcm16
    frames: int
    channels: int

    @classmethod
    def of(cls, audio: Pcm16) -> Pcm:
        a = np.ascontiguousarray(audio, dtype=np.int16)
        wrap = np.resize(a, (CHUNK_FRAMES, a.shape[1])) if len(a) < CHUNK_FRAMES else a
        return cls(np.concatenate([a, wrap[:CHUNK_FRAMES]]), len(a), int(a.shape[1]))

    def chunk(self, start: int, n: int) -> bytes:
        p = start % self.frames
        return self.samples[p : p + n].tobytes()


@dataclass(frozen=True, slots=True)
class Utterance:
    id: str
    kind: str
    text: str
    duration_s: float
    pcm: Pcm  # with the silence before and after


@dataclass(frozen=True, slots=True)
class ScriptedCall:
    name: str
    pcm: Pcm
    refs: dict[str, str]  # speaker -> that speaker's turns, joined in order


def default_data_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "shared" / "data"


def load_normalizer(path: Path) -> Callable[[str], str]:
    """``normalize`` from the data set's ``normalize.py`` (outside the package: by path)."""
    if not path.is_file():
        raise DataError(f"{path} is missing")
    spec = importlib.util.spec_from_file_location("callscope_bench_asr_normalize", path)
    if spec is None or spec.loader is None:
        raise DataError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fn = getattr(module, "normalize", None)
    if not callable(fn):
        raise DataError(f"{path} has no normalize(text) function")

    def normalize(text: str) -> str:
        return str(fn(text))

    return normalize


def read_pcm(path: Path, channels: int) -> Pcm16:
    if not path.is_file():
        raise DataError(f"{path} is missing")
    rate, samples = read_wav(path)
    if rate != RATE or samples.shape[1] != channels:
        raise DataError(
            f"{path}: {rate} Hz × {samples.shape[1]} channel(s); expected {RATE} Hz × {channels}"
        )
    return samples


def load_utterances(
    data: Path, normalize: Callable[[str], str], limit: int
) -> tuple[list[Utterance], list[str]]:
    """The manifest's utterances (``limit`` > 0: a small mix of every kind), padded with
    silence; and warnings (a manifest ``text_norm`` the normaliser no longer produces)."""
    manifest = data / "asr" / "manifest.jsonl"
    if not manifest.is_file():
        raise DataError(f"{manifest} is missing")
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    if limit > 0:
        rows = pick_mix(rows, limit)
    lead = np.zeros((round(LEAD_S * RATE), 1), dtype=np.int16)
    tail = np.zeros((round(TAIL_S * RATE), 1), dtype=np.int16)
    out: list[Utterance] = []
    warnings: list[str] = []
    for r in rows:
        audio = read_pcm(data / "asr" / str(r["audio"]), 1)
        text = str(r["text"])
        if "text_norm" in r and normalize(text) != r["text_norm"]:
            warnings.append(f"{r['id']}: normalize(text) differs from the manifest's text_norm")
        out.append(
            Utterance(
                str(r["id"]),
                str(r.get("kind", "?")),
                text,
                len(audio) / RATE,
                Pcm.of(np.concatenate([lead, audio, tail])),
            )
        )
    return out, warnings


def pick_mix(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows: one of each kind first (its shortest), then short prompts."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for r in sorted(rows, key=lambda r: float(r["duration_s"])):
        by_kind.setdefault(str(r.get("kind", "?")), []).append(r)
    picked: list[dict[str, Any]] = [group[0] for group in by_kind.values()]
    rest = [r for r in sorted(rows, key=lambda r: float(r["duration_s"])) if r not in picked]
    # short ones, but not only the very shortest: every other one
    picked += rest[::2][: max(0, limit - len(picked))]
    return picked[:limit]


def load_call(data: Path, normalize: Callable[[str], str]) -> ScriptedCall:
    wav = data / "calls" / "call_password_reset.wav"
    meta_path = wav.with_suffix(".json")
    if not meta_path.is_file():
        raise DataError(f"{meta_path} is missing")
    meta = json.loads(meta_path.read_text())
    audio = read_pcm(wav, len(CHANNELS))
    turns = sorted(meta["turns"], key=lambda t: float(t["start"]))
    refs = {
        speaker: normalize(" ".join(str(t["text"]) for t in turns if t["speaker"] == speaker))
        for speaker in CHANNELS
    }
    return ScriptedCall(wav.name, Pcm.of(audio), refs)


# -- scoring ---------------------------------------------------------------------------------


def word_edits(ref: Sequence[str], hyp: Sequence[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def wer(edits: int, words: int) -> float | None:
    return edits / words if words else None


def pct(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def sec(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def latency_line(values: Sequence[float]) -> str:
    if not values:
        return "no finals"
    return (
        f"p50 {sec(percentile(values, 0.5))} s, p95 {sec(percentile(values, 0.95))} s, "
        f"max {sec(max(values))} s ({len(values)} finals)"
    )


# -- streams ---------------------------------------------------------------------------------


@dataclass(eq=False)
class Collector:
    """A stream's sink (the pool's StreamSink): keeps finals and their latencies."""

    finals: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    partials: int = 0
    failed: str | None = None
    chunks_dropped: int = 0
    drained: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def on_result(self, result: dict[str, Any]) -> None:
        if result["final"]:
            self.latencies.append(max(0.0, time.monotonic() - float(result["ready_at"])))
            self.finals.append(result)
        else:
            self.partials += 1

    def on_done(self) -> None:
        self.drained = True
        self.done.set()

    def on_failed(self, reason: str) -> None:
        self.failed = reason
        self.done.set()

    def text(self, speaker: str | None = None) -> str:
        rows = sorted(
            (r for r in self.finals if speaker is None or r["speaker"] == speaker),
            key=lambda r: (int(r["start_ms"]), int(r["channel"])),
        )
        return " ".join(str(r["text"]).strip() for r in rows)


async def run_stream(
    pool: WorkerPool,
    speakers: list[str],
    pcm: Pcm,
    *,
    start_at: float,
    frames: int,
    offset: int = 0,
    speed: float = 1.0,
    lateness: list[float],
    drain_timeout_s: float = DRAIN_TIMEOUT_S,
) -> Collector:
    """One stream: opened at ``start_at``, ``frames`` of ``pcm`` (looped from ``offset``) fed in
    --chunk-ms chunks on a real-time schedule (÷ ``speed``), closed, drained (bounded)."""
    sink = Collector()
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    stream = pool.open(speakers, 0, sink)
    step = CHUNK_S / speed
    try:
        for k in range(math.ceil(frames / CHUNK_FRAMES)):
            due = start_at + (k + 1) * step
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            now = time.monotonic()
            lateness.append(now - due)
            if sink.failed is not None:
                break
            n = min(CHUNK_FRAMES, frames - k * CHUNK_FRAMES)
            arrived = min(now, start_at + (k * CHUNK_S + BLOCK_S) / speed)
            if not pool.feed(stream, pcm.chunk(offset + k * CHUNK_FRAMES, n), arrived):
                sink.chunks_dropped += 1
    finally:
        with contextlib.suppress(Exception):
            pool.close(stream)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(sink.done.wait(), drain_timeout_s)
    return sink


def pool_options(args: argparse.Namespace, *, pack: bool, partial_ms: int) -> PoolOptions:
    return PoolOptions(
        workers=1,
        engine=args.engine,
        model_dir=args.model_dir,
        threads=args.threads,
        partial_interval_ms=partial_ms,
        pack=pack,
        max_segment_ms=args.max_segment_ms,
        hangover_ms=args.hangover_ms,
        log_level="WARNING",
    )


@contextlib.asynccontextmanager
async def running_pool(
    options: PoolOptions, warmup: Pcm, pinned: bool
) -> AsyncIterator[tuple[WorkerPool, int]]:
    """A started one-worker pool, its worker pinned to WORKER_CPU and warmed up (one decode);
    always stopped."""
    pool = WorkerPool(options, Registry())
    t = time.monotonic()
    try:
        await pool.start()
        pid = worker_pid(pool)
        if pinned:
            pin(pid, WORKER_CPU)
        sink = await run_stream(
            pool,
            ["warmup"],
            warmup,
            start_at=time.monotonic(),
            frames=warmup.frames,
            speed=1000.0,
            lateness=[],
            drain_timeout_s=30.0,
        )
        if pinned:  # threads started since (reader, decoder pools) are moved too
            pin(pid, WORKER_CPU)
        log(
            f"worker pid {pid} ready in {time.monotonic() - t:.1f} s "
            f"(pack={options.pack}, "
            + (
                f"partials every {options.partial_interval_ms} ms"
                if options.partial_interval_ms
                else "finals only"
            )
            + "; "
            f"warm-up {'ok' if sink.drained else 'not drained'})"
        )
        yield pool, pid
    finally:
        await pool.stop(10.0)


# -- phase 1: WER on the DEV set -------------------------------------------------------------


@dataclass(slots=True)
class UttResult:
    id: str
    kind: str
    ref: str
    hyp: str
    edits: int
    words: int
    finals: int
    latencies: list[float]
    problem: str = ""


@dataclass(slots=True)
class WerOutcome:
    results: list[UttResult]
    concurrency: int
    wall_s: float
    lateness: list[float]

    def totals(self, kind: str | None = None) -> tuple[int, int]:
        rs = [r for r in self.results if kind is None or r.kind == kind]
        return sum(r.edits for r in rs), sum(r.words for r in rs)

    @property
    def kinds(self) -> list[str]:
        return sorted({r.kind for r in self.results})

    @property
    def latencies(self) -> list[float]:
        return [x for r in self.results for x in r.latencies]


async def wer_phase(
    pool: WorkerPool,
    utts: list[Utterance],
    normalize: Callable[[str], str],
    concurrency: int,
    stagger_s: float,
) -> WerOutcome:
    queue = sorted(utts, key=lambda u: -u.duration_s)  # longest first: shortest makespan
    results: list[UttResult] = []
    lateness: list[float] = []
    t0 = time.monotonic()

    async def runner(j: int) -> None:
        await asyncio.sleep(j * stagger_s)
        while queue:
            u = queue.pop(0)
            sink = await run_stream(
                pool,
                ["speaker"],
                u.pcm,
                start_at=time.monotonic(),
                frames=u.pcm.frames,
                lateness=lateness,
            )
            ref, hyp = normalize(u.text), normalize(sink.text())
            edits = word_edits(ref.split(), hyp.split())
            problem = (
                f"worker failed: {sink.failed}"
                if sink.failed
                else ("not drained" if not sink.drained else "")
            )
            if sink.chunks_dropped:
                problem += f" {sink.chunks_dropped} chunks dropped"
            results.append(
                UttResult(
                    u.id,
                    u.kind,
                    ref,
                    hyp,
                    edits,
                    len(ref.split()),
                    len(sink.finals),
                    sink.latencies,
                    problem.strip(),
                )
            )
            log(
                f"wer {len(results)}/{len(utts)} {u.id} ({u.duration_s:.1f} s): "
                f"{edits}/{len(ref.split())} word errors"
                + (f" [{problem.strip()}]" if problem else "")
            )

    await asyncio.gather(*(runner(j) for j in range(max(1, concurrency))))
    return WerOutcome(results, concurrency, time.monotonic() - t0, lateness)


def print_wer(o: WerOutcome) -> None:
    edits, words = o.totals()
    print(
        f"\nWER through the streaming path: {len(o.results)} utterances, {words} reference words, "
        f"{o.concurrency} streams at a time in real time, {o.wall_s:.0f} s"
    )
    print(f"  {'overall':<15} {pct(wer(edits, words)):>8}  ({edits} edits / {words} words)")
    for kind in o.kinds:
        e, w = o.totals(kind)
        n = sum(1 for r in o.results if r.kind == kind)
        print(f"  {kind:<15} {pct(wer(e, w)):>8}  ({e} / {w} words, {n} utterances)")
    print(f"final latency: {latency_line(o.latencies)}")
    print_lateness(o.lateness)
    problems = [r for r in o.results if r.problem]
    for r in problems:
        print(f"  problem: {r.id}: {r.problem}")
    worst = sorted(o.results, key=lambda r: (-r.edits, -(r.edits / max(r.words, 1))))[:5]
    worst = [r for r in worst if r.edits]
    if worst:
        print("worst utterances:")
        for r in worst:
            print(
                f"  {r.id} ({r.kind}): {r.edits}/{r.words} errors "
                f"({pct(wer(r.edits, r.words), 0)}), {r.finals} final(s)"
            )
            print(f"    ref: {r.ref}")
            print(f"    hyp: {r.hyp}")


def print_lateness(lateness: Sequence[float]) -> None:
    p99 = percentile(lateness, 0.99)
    if p99 is not None and p99 > LATE_FLAG_S:
        print(
            f"  note: this process fed audio late (p99 {p99 * 1000:.0f} ms, max "
            f"{max(lateness) * 1000:.0f} ms): latencies include that"
        )


# -- phase 3: the scripted call --------------------------------------------------------------


@dataclass(slots=True)
class CallOutcome:
    speed: float
    per_speaker: dict[str, tuple[int, int]]  # speaker -> (edits, words)
    hyps: dict[str, str]
    latencies: list[float]
    lateness: list[float]
    problem: str


async def call_phase(
    pool: WorkerPool, call: ScriptedCall, normalize: Callable[[str], str], speed: float
) -> CallOutcome:
    lateness: list[float] = []
    log(f"call: streaming {call.name} ({call.pcm.frames / RATE:.0f} s) at {speed:g}×")
    sink = await run_stream(
        pool,
        list(CHANNELS),
        call.pcm,
        start_at=time.monotonic(),
        frames=call.pcm.frames,
        speed=speed,
        lateness=lateness,
    )
    per: dict[str, tuple[int, int]] = {}
    hyps: dict[str, str] = {}
    for speaker in CHANNELS:
        ref = call.refs[speaker].split()
        hyps[speaker] = normalize(sink.text(speaker))
        per[speaker] = (word_edits(ref, hyps[speaker].split()), len(ref))
    problem = f"worker failed: {sink.failed}" if sink.failed else ""
    if not sink.drained and not sink.failed:
        problem = "not drained"
    return CallOutcome(speed, per, hyps, sink.latencies, lateness, problem)


def print_call(o: CallOutcome, call: ScriptedCall) -> None:
    print(
        f"\nScripted call {call.name} (TTS voices; README reference for tiny.en: "
        f"≈ 8 % agent / ≈ 30 % customer), one 2-channel stream at {o.speed:g}×"
    )
    for speaker, (e, w) in o.per_speaker.items():
        print(f"  {speaker:<9} WER {pct(wer(e, w)):>8}  ({e} / {w} words)")
    print(
        f"final latency{'' if o.speed == 1 else f' (at {o.speed:g}×: not real time)'}: "
        f"{latency_line(o.latencies)}"
    )
    print_lateness(o.lateness)
    if o.problem:
        print(f"  problem: {o.problem}")


# -- phase 4: capacity -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Probe:
    t: float
    worker_cpu_s: float
    own_cpu_s: float
    cores: dict[int, float]
    stats: dict[str, Any]


def probe(pool: WorkerPool, pid: int) -> Probe:
    return Probe(
        time.monotonic(),
        cpu_seconds(pid),
        own_cpu_seconds(),
        core_busy_seconds(),
        latest_stats(pool),
    )


@dataclass(slots=True)
class CapRow:
    mode: str
    calls: int
    finals: int
    lat_p50_s: float | None
    lat_p95_s: float | None
    lat_max_s: float | None
    oldest_max_s: float
    backlog_max_s: float
    cpu_pct: float
    rtf: float
    pieces_per_decode: float
    partials: int
    partials_dropped: int
    failed_streams: int
    undrained_streams: int
    chunks_dropped: int
    window_s: float
    other_worker_cpu_pct: float
    other_bench_cpu_pct: float
    bench_late_p99_ms: float
    vad_share_pct: float
    #: pack=False was asked for, yet some decode held several pieces (the flag did not reach
    #: the worker's scheduler): the row is not a naive baseline
    packed_anyway: bool = False

    @property
    def ok(self) -> bool:
        return (
            self.finals > 0
            and self.lat_p95_s is not None
            and self.lat_p95_s < KEEP_UP_P95_S
            and self.oldest_max_s <= KEEP_UP_OLDEST_S
            and not self.failed_streams
            and not self.undrained_streams
            and not self.chunks_dropped
        )

    @property
    def overloaded(self) -> bool:
        p95 = self.lat_p95_s if self.lat_p95_s is not None else math.inf
        return (
            p95 > OVERLOAD_P95_S
            or self.oldest_max_s > OVERLOAD_OLDEST_S
            or self.failed_streams > 0
            or self.undrained_streams > 0
        )


COLUMNS: Final = (
    ("mode", 16),
    ("calls", 5),
    ("ch", 3),
    ("finals", 6),
    ("p50_s", 6),
    ("p95_s", 6),
    ("max_s", 6),
    ("oldest_s", 8),
    ("cpu_%", 6),
    ("RTF", 6),
    ("pcs/dec", 7),
    ("partials", 11),
    ("keeps_up", 8),
)


def cap_header() -> str:
    return "  ".join(f"{name:>{w}}" if i else f"{name:<{w}}" for i, (name, w) in enumerate(COLUMNS))


def format_cap_row(r: CapRow) -> str:
    cells = (
        r.mode,
        str(r.calls),
        str(2 * r.calls),
        str(r.finals),
        sec(r.lat_p50_s),
        sec(r.lat_p95_s),
        sec(r.lat_max_s),
        f"{r.oldest_max_s:.2f}",
        f"{r.cpu_pct:.0f}",
        f"{r.rtf:.3f}",
        f"{r.pieces_per_decode:.1f}",
        f"{r.partials}/{r.partials_dropped}",
        "yes" if r.ok else "NO",
    )
    return "  ".join(
        f"{c:>{w}}" if i else f"{c:<{w}}"
        for i, (c, (_, w)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def cap_notes(r: CapRow) -> str:
    notes = []
    if r.packed_anyway:
        notes.append(
            "INVALID as a naive baseline: pack=False was asked for but the worker packed "
            f"{r.pieces_per_decode:.2f} pieces per decode"
        )
    if r.failed_streams:
        notes.append(f"{r.failed_streams} stream(s) failed (worker died)")
    if r.undrained_streams:
        notes.append(f"{r.undrained_streams} stream(s) not drained within the timeout")
    if r.chunks_dropped:
        notes.append(f"{r.chunks_dropped} chunk(s) dropped by the pool (worker not reading)")
    if r.other_worker_cpu_pct > OTHER_FLAG_PCT or r.other_bench_cpu_pct > OTHER_FLAG_PCT:
        notes.append(
            f"other load on CPU {WORKER_CPU} (worker) {r.other_worker_cpu_pct:.0f} %, "
            f"on CPU {BENCH_CPU} (bench) {r.other_bench_cpu_pct:.0f} %"
        )
    if r.bench_late_p99_ms > LATE_FLAG_S * 1000:
        notes.append(f"bench fed late (p99 {r.bench_late_p99_ms:.0f} ms)")
    return "; ".join(notes)


async def capacity_step(
    pool: WorkerPool,
    pid: int,
    mode: str,
    pack: bool,
    n: int,
    call: ScriptedCall,
    args: argparse.Namespace,
    pinned: bool,
) -> CapRow:
    if pinned:
        pin(pid, WORKER_CPU)
    frames = round(args.capacity_seconds * RATE)
    stagger: float = args.stagger
    t0 = time.monotonic() + 0.1
    # steady window: every call streaming (last start .. first end)
    w0 = t0 + stagger * (n - 1) / n + CHUNK_S
    w1 = t0 + args.capacity_seconds
    if w1 - w0 < 1.0:
        w0, w1 = t0, t0 + args.capacity_seconds + stagger
    lateness: list[float] = []
    before = probe(pool, pid)
    oldest, backlog = 0.0, 0.0
    stop = asyncio.Event()

    async def sample() -> None:
        nonlocal oldest, backlog
        while not stop.is_set():
            s = latest_stats(pool)
            oldest = max(oldest, float(s.get("oldestPendingS", 0.0)))
            backlog = max(backlog, float(s.get("backlogS", 0.0)))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), STATS_POLL_S)

    async def window() -> tuple[Probe, Probe]:
        await asyncio.sleep(max(0.0, w0 - time.monotonic()))
        a = probe(pool, pid)
        await asyncio.sleep(max(0.0, w1 - time.monotonic()))
        return a, probe(pool, pid)

    def phase(i: int) -> int:
        if args.same_phase:
            return 0
        return (i * call.pcm.frames // n) // CHUNK_FRAMES * CHUNK_FRAMES

    sampler = asyncio.create_task(sample())
    win = asyncio.create_task(window())
    streams = [
        asyncio.create_task(
            run_stream(
                pool,
                list(CHANNELS),
                call.pcm,
                start_at=t0 + i * stagger / n,
                frames=frames,
                offset=phase(i),
                lateness=lateness,
            )
        )
        for i in range(n)
    ]
    try:
        sinks = await asyncio.gather(*streams)
        a, b = await win
    finally:
        stop.set()
        for t in (*streams, win):
            t.cancel()
        await asyncio.gather(sampler, *streams, win, return_exceptions=True)
    await asyncio.sleep(0.6)  # one more stats report from the worker
    after = latest_stats(pool)

    def d(key: str) -> float:
        return float(after.get(key, 0.0)) - float(before.stats.get(key, 0.0))

    wall = max(b.t - a.t, 1e-6)
    cpu = b.worker_cpu_s - a.worker_cpu_s
    own = b.own_cpu_s - a.own_cpu_s

    def other(core: int, used: float) -> float:
        busy = b.cores.get(core, 0.0) - a.cores.get(core, 0.0)
        return max(0.0, 100 * (busy - used) / wall)

    lat = [x for s in sinks for x in s.latencies]
    batches = d("batches")
    cpu_all = d("cpuS")
    return CapRow(
        mode=mode,
        calls=n,
        finals=len(lat),
        lat_p50_s=percentile(lat, 0.5),
        lat_p95_s=percentile(lat, 0.95),
        lat_max_s=max(lat, default=None),
        oldest_max_s=max(oldest, float(after.get("oldestPendingS", 0.0))),
        backlog_max_s=backlog,
        cpu_pct=100 * cpu / wall,
        rtf=cpu / (len(CHANNELS) * n * wall),
        pieces_per_decode=d("pieces") / batches if batches else 0.0,
        partials=int(d("partials")),
        partials_dropped=int(d("partialsDropped")),
        failed_streams=sum(1 for s in sinks if s.failed),
        undrained_streams=sum(1 for s in sinks if not s.drained and not s.failed),
        chunks_dropped=sum(s.chunks_dropped for s in sinks),
        window_s=wall,
        other_worker_cpu_pct=other(WORKER_CPU, cpu) if pinned else 0.0,
        other_bench_cpu_pct=other(BENCH_CPU, own) if pinned else 0.0,
        bench_late_p99_ms=1000 * (percentile(lateness, 0.99) or 0.0),
        vad_share_pct=100 * d("vadCpuS") / cpu_all if cpu_all > 0 else 0.0,
        packed_anyway=not pack and d("pieces") > batches,
    )


@dataclass(slots=True)
class ModeOutcome:
    mode: str
    pack: bool
    partial_ms: int
    rows: list[CapRow] = field(default_factory=list)
    stopped_early: str = ""

    @property
    def best(self) -> int:
        return max((r.calls for r in self.rows if r.ok), default=0)

    @property
    def packed_anyway(self) -> bool:
        return any(r.packed_anyway for r in self.rows)

    @property
    def failed_below_best(self) -> list[int]:
        return [r.calls for r in self.rows if not r.ok and r.calls < self.best]


async def capacity_mode(
    mode: ModeOutcome,
    call: ScriptedCall,
    warmup: Pcm,
    args: argparse.Namespace,
    ramp: list[int],
    pinned: bool,
) -> None:
    options = pool_options(args, pack=mode.pack, partial_ms=mode.partial_ms)
    async with running_pool(options, warmup, pinned) as (pool, pid):
        for n in ramp:
            log(
                f"capacity {mode.mode}: {n} calls ({2 * n} channels) for "
                f"{args.capacity_seconds:g} s + drain"
            )
            row = await capacity_step(pool, pid, mode.mode, mode.pack, n, call, args, pinned)
            mode.rows.append(row)
            print(format_cap_row(row), flush=True)
            notes = cap_notes(row)
            if notes:
                print(f"      note: {notes}", flush=True)
            if row.overloaded:
                mode.stopped_early = (
                    f"overloaded at {n} calls (p95 {sec(row.lat_p95_s)} s, oldest pending "
                    f"{row.oldest_max_s:.1f} s)"
                )
                print(f"      {mode.mode}: stopped ramping: {mode.stopped_early}", flush=True)
                break


# -- summary ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Outcome:
    wer: WerOutcome | None = None
    call: CallOutcome | None = None
    modes: list[ModeOutcome] = field(default_factory=list)


def ratio_line(ours: ModeOutcome, naive: ModeOutcome) -> str:
    parts = []
    if naive.packed_anyway:
        parts.append("NOT COMPARABLE (the naive worker packed decodes despite pack=False)")
    if ours.best and naive.best:
        parts.append(f"{ours.best / naive.best:.1f}× the calls per core")
    elif ours.best:
        parts.append(f"naive kept up at no step tried; ours {ours.best}")
    common = sorted({r.calls for r in ours.rows} & {r.calls for r in naive.rows})
    if common:
        n = common[0]
        ro = next(r for r in ours.rows if r.calls == n)
        rn = next(r for r in naive.rows if r.calls == n)
        if ro.rtf > 0:
            parts.append(
                f"naive needs {rn.rtf / ro.rtf:.1f}× the CPU per audio second at {n} calls"
            )
    return "; ".join(parts) or "-"


def summary_markdown(o: Outcome, args: argparse.Namespace, pinned: bool) -> str:
    lines = [
        f"ASR benchmark (`bench/asr.py{' --quick' if args.quick else ''}`), "
        f"{datetime.now(UTC).date().isoformat()}, engine {args.engine}, "
        f"{args.threads} decode thread(s), "
        + (
            f"worker pinned to CPU {WORKER_CPU}, bench on CPU {BENCH_CPU}"
            if pinned
            else "NOT pinned"
        )
        + (" — QUICK SMOKE RUN, not for the README" if args.quick else ""),
        "",
        "| measure | target | result |",
        "|---|---|---|",
    ]
    if o.wer is not None:
        e, w = o.wer.totals()
        kinds = ", ".join(f"{k} {pct(wer(*o.wer.totals(k)))}" for k in o.wer.kinds)
        lat = o.wer.latencies
        lines.append(
            f"| WER, streaming path, {len(o.wer.results)} DEV utterances "
            f"({o.wer.concurrency} streams at a time) | ≤ 5 % | **{pct(wer(e, w))}** ({kinds}) |"
        )
        lines.append(
            f"| final latency p50 / p95 / max, DEV set | p95 < 1.5 s | "
            f"{sec(percentile(lat, 0.5))} / **{sec(percentile(lat, 0.95))}** / "
            f"{sec(max(lat, default=None))} s ({len(lat)} finals) |"
        )
    if o.call is not None:
        c = o.call
        ws = " / ".join(pct(wer(*c.per_speaker[s])) for s in CHANNELS)
        lines.append(
            f"| scripted call (TTS), WER agent / customer | — (tiny.en ≈ 8 % / 30 %) | {ws} |"
        )
        lines.append(
            f"| final latency p50 / p95 / max, scripted call"
            f"{'' if c.speed == 1 else f' at {c.speed:g}×'} | p95 < 1.5 s | "
            f"{sec(percentile(c.latencies, 0.5))} / {sec(percentile(c.latencies, 0.95))} / "
            f"{sec(max(c.latencies, default=None))} s |"
        )
    by = {m.mode: m for m in o.modes}
    for m in o.modes:
        target = "≥ 10" if m.mode == "ours" else ("(said 4–6)" if m.mode == "naive" else "—")
        tried = ",".join(str(r.calls) for r in m.rows)
        lines.append(
            f"| calls per worker core, {describe_mode(m)} | {target} | "
            f"**{m.best or 'none'}** (tried {tried})"
            + (" — INVALID: the worker packed anyway" if m.packed_anyway else "")
            + " |"
        )
    if "ours" in by and "naive" in by:
        lines.append(f"| ours vs naive | | {ratio_line(by['ours'], by['naive'])} |")
    if o.modes:
        lines += [
            "",
            "| mode | calls (channels) | final p50 / p95 | oldest pending | worker CPU | RTF "
            "| pieces/decode | partials decoded / dropped | keeps up |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for m in o.modes:
            for r in m.rows:
                lines.append(
                    f"| {m.mode} | {r.calls} ({2 * r.calls}) | {sec(r.lat_p50_s)} / "
                    f"{sec(r.lat_p95_s)} s | {r.oldest_max_s:.1f} s | {r.cpu_pct:.0f} % | "
                    f"{r.rtf:.3f} | {r.pieces_per_decode:.1f} | {r.partials} / "
                    f"{r.partials_dropped} | {'yes' if r.ok else 'no'} |"
                )
        lines += [
            "",
            f"Each call: the scripted 77 s call looped, both channels, real time, "
            f"{args.capacity_seconds:g} s per step; keeps up = final p95 < 1.5 s and no final "
            f"waits > 3 s. RTF = worker CPU s / channel-audio s.",
        ]
    return "\n".join(lines)


def describe_mode(m: ModeOutcome) -> str:
    what = "packed decodes (ours)" if m.pack else "one decode per segment (naive)"
    return what + (f", partials every {m.partial_ms} ms" if m.partial_ms else ", finals only")


# -- the run ---------------------------------------------------------------------------------


async def run_bench(args: argparse.Namespace, ramp: list[int], pinned: bool) -> Outcome:
    data: Path = args.data
    normalize = load_normalizer(data / "asr" / "normalize.py")
    out = Outcome()
    phases: set[str] = args.phases
    utts, warnings = load_utterances(data, normalize, args.wer_limit)
    for w in warnings:
        log(f"warning: {w}")
    call = load_call(data, normalize)
    warmup = min(utts, key=lambda u: u.duration_s).pcm
    log(
        f"data: {len(utts)} utterances ({sum(u.duration_s for u in utts):.0f} s), "
        f"call {call.pcm.frames / RATE:.0f} s"
    )

    if phases & {"wer", "call"}:
        options = pool_options(args, pack=True, partial_ms=0)
        async with running_pool(options, warmup, pinned) as (pool, _):
            if "wer" in phases:
                out.wer = await wer_phase(
                    pool, utts, normalize, args.wer_concurrency, args.wer_stagger
                )
                print_wer(out.wer)
            if "call" in phases:
                out.call = await call_phase(pool, call, normalize, args.call_speed)
                print_call(out.call, call)

    if "capacity" in phases:
        out.modes = [ModeOutcome("ours", True, 0), ModeOutcome("naive", False, 0)]
        if args.partials:
            out.modes.append(ModeOutcome("ours+partials", True, 1000))
        print(
            f"\nCapacity: one worker on CPU {WORKER_CPU}, N calls × 2 channels, real time, "
            f"{args.capacity_seconds:g} s each (started over {args.stagger:g} s)",
            flush=True,
        )
        print(cap_header(), flush=True)
        for m in out.modes:
            await capacity_mode(m, call, warmup, args, ramp, pinned)
        for m in out.modes:
            below = m.failed_below_best
            print(
                f"{m.mode} ({describe_mode(m)}): largest N that keeps up: {m.best or 'none'}"
                + (f" (but failed at {below})" if below else "")
                + (f"; stopped early: {m.stopped_early}" if m.stopped_early else "")
                + ("; INVALID: the worker packed despite pack=False" if m.packed_anyway else ""),
                flush=True,
            )
        by = {m.mode: m for m in out.modes}
        print(f"ours vs naive: {ratio_line(by['ours'], by['naive'])}", flush=True)
        if "ours+partials" in by and by["ours+partials"].rows and by["ours"].rows:
            p, f = by["ours+partials"].rows[0], by["ours"].rows[0]
            if p.calls == f.calls and f.rtf > 0:
                print(
                    f"partials every 1 s cost {p.rtf / f.rtf:.1f}× the CPU of finals only at "
                    f"{p.calls} calls; {p.partials} decoded, {p.partials_dropped} dropped",
                    flush=True,
                )
    return out


def parse_phases(text: str) -> set[str]:
    phases = {x.strip() for x in text.split(",") if x.strip()}
    unknown = phases - {"wer", "call", "capacity"}
    if not phases or unknown:
        raise argparse.ArgumentTypeError("--phases: a comma list of wer, call, capacity")
    return phases


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/asr.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data",
        type=Path,
        default=default_data_dir(),
        help="shared data folder holding asr/ and calls/ (default: ../shared/data next to the "
        "repository)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: 8 utterances, the call at 4×, one 20 s step of 4 calls per mode "
        "(options given explicitly still win)",
    )
    p.add_argument(
        "--phases",
        type=parse_phases,
        default=parse_phases("wer,call,capacity"),
        help="what to run, comma-separated (default wer,call,capacity)",
    )
    p.add_argument("--wer-limit", type=int, help="utterances to use, 0 = all (all; quick 8)")
    p.add_argument("--wer-concurrency", type=int, help="WER streams at a time (6; quick 4)")
    p.add_argument(
        "--wer-stagger", type=float, default=1.0, help="seconds between the first streams (1)"
    )
    p.add_argument("--call-speed", type=float, help="scripted call speed (1 = real time; quick 4)")
    p.add_argument(
        "--ramp", type=counts("--ramp"), help="calls per capacity step (4,8,…,24; quick 4)"
    )
    p.add_argument(
        "--capacity-seconds", type=float, help="seconds each call streams per step (60; quick 20)"
    )
    p.add_argument("--stagger", type=float, help="seconds over which a step's calls start (5; 2)")
    p.add_argument(
        "--same-phase",
        action="store_true",
        help="every call starts at the beginning of the scripted call (default: spread over it)",
    )
    p.add_argument(
        "--partials",
        action="store_true",
        help="also run ours with partials every 1000 ms (their cost and how many are dropped)",
    )
    p.add_argument("--engine", default="whisper-tiny", help="speech engine (whisper-tiny)")
    p.add_argument("--model-dir", type=Path, help="model folder for the engine")
    p.add_argument("--threads", type=int, default=1, help="decode threads per worker (1)")
    p.add_argument("--max-segment-ms", type=int, default=15_000, help="VAD segment cut (15000)")
    p.add_argument(
        "--hangover-ms",
        type=int,
        default=Settings().asr_vad_hangover_ms,
        help="silence that ends a phrase (default: the server's asr_vad_hangover_ms)",
    )
    p.add_argument(
        "--chunk-ms",
        type=int,
        default=Settings().asr_send_ms,
        help="audio per feed (default: the server's asr_send_ms)",
    )
    p.add_argument("--json", type=Path, metavar="FILE", help="also write the results as JSON")
    return p


def resolve(args: argparse.Namespace) -> None:
    """Fill the options left unset with the full-run or the quick-run value."""
    q = args.quick
    for name, full, quick in (
        ("wer_limit", 0, 8),
        ("wer_concurrency", 6, 4),
        ("call_speed", 1.0, 4.0),
        ("ramp", list(FULL_RAMP), [4]),
        ("capacity_seconds", 60.0, 20.0),
        ("stagger", 5.0, 2.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if q else full)


def to_json(o: Outcome, args: argparse.Namespace, pinned: bool) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "quick": args.quick,
        "engine": args.engine,
        "threads": args.threads,
        "pinned": pinned,
        "capacity_seconds": args.capacity_seconds,
    }
    if o.wer is not None:
        e, w = o.wer.totals()
        doc["wer"] = {
            "wer": wer(e, w),
            "by_kind": {k: wer(*o.wer.totals(k)) for k in o.wer.kinds},
            "latency_s": {
                "p50": percentile(o.wer.latencies, 0.5),
                "p95": percentile(o.wer.latencies, 0.95),
                "max": max(o.wer.latencies, default=None),
            },
            "utterances": [asdict(r) for r in o.wer.results],
        }
    if o.call is not None:
        doc["call"] = {
            "speed": o.call.speed,
            "wer": {s: wer(*v) for s, v in o.call.per_speaker.items()},
            "hyp": o.call.hyps,
            "latencies_s": o.call.latencies,
        }
    doc["capacity"] = [
        {
            "mode": m.mode,
            "pack": m.pack,
            "partial_interval_ms": m.partial_ms,
            "best": m.best,
            "stopped_early": m.stopped_early,
            "rows": [asdict(r) | {"ok": r.ok} for r in m.rows],
        }
        for m in o.modes
    ]
    return doc


def main(argv: list[str] | None = None) -> int:
    global CHUNK_S, CHUNK_FRAMES
    args = build_parser().parse_args(argv)
    CHUNK_S = args.chunk_ms / 1000
    CHUNK_FRAMES = args.chunk_ms * 8
    resolve(args)
    if args.capacity_seconds <= 0 or args.stagger < 0 or args.call_speed <= 0:
        print("--capacity-seconds and --call-speed must be > 0, --stagger ≥ 0", file=sys.stderr)
        return 2
    data: Path = args.data
    if not (data / "asr" / "manifest.jsonl").is_file() or not (data / "calls").is_dir():
        print(
            f"shared data not found: {data} should hold asr/manifest.jsonl, asr/normalize.py "
            "and calls/call_password_reset.{wav,json}; pass --data DIR",
            file=sys.stderr,
        )
        return 2

    def terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    signal.signal(signal.SIGHUP, terminate)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    cpus = os.sched_getaffinity(0)
    # pin this process before any thread starts: threads inherit the mask of their creator
    pinned = {WORKER_CPU, BENCH_CPU} <= cpus and pin(os.getpid(), BENCH_CPU)
    print(
        f"callscope ASR bench{' (quick)' if args.quick else ''}: engine {args.engine}, "
        f"phases {','.join(sorted(args.phases))}; "
        + (
            f"worker on CPU {WORKER_CPU}, bench on CPU {BENCH_CPU}"
            if pinned
            else f"NOT pinned (CPUs available: {sorted(cpus)})"
        ),
        flush=True,
    )
    t0 = time.monotonic()
    try:
        outcome = asyncio.run(run_bench(args, args.ramp, pinned))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except DataError as exc:
        print(f"bench failed: data: {exc}", file=sys.stderr)
        return 2
    except (CallscopeError, RuntimeError, OSError, TimeoutError) as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    print(f"\n<!-- summary, {time.monotonic() - t0:.0f} s -->")
    print(summary_markdown(outcome, args, pinned), flush=True)
    if args.json:
        args.json.write_text(json.dumps(to_json(outcome, args, pinned), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
