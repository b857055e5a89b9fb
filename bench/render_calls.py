"""Render the insights evaluation calls (``bench/data/insights/calls/{dev,test}/*.json``) to
telephone audio with Debian TTS, the way ``../shared/data/calls/render_call.py`` does.

Per turn: ``flite -voice V`` or ``espeak-ng -v V -s 155`` → ``sox -D … -r 8000 sinc 300-3400
gain -n -3`` (telephone band, no dither: deterministic) → silence trimmed → placed on its
channel (left = agent, right = customer) with 0.35–0.9 s gaps seeded from the call id → each
channel through a G.711 μ-law encode/decode (callscope.media.g711) → 8 kHz 16-bit stereo WAV.
Next to each WAV a JSON copy of the script with the measured turn ``start``/``end``.

Needs ``apt-get install -y flite espeak-ng sox``. The WAVs are made on demand (default
``bench/results/insights-audio/``, not committed): ``bench/insights.py`` calls this.

Run: ``python bench/render_calls.py [--split dev|test|all] [--out DIR]``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from callscope.media.g711 import lin2ulaw, ulaw2lin

ROOT = Path(__file__).resolve().parent.parent
CALLS = ROOT / "bench" / "data" / "insights" / "calls"
OUT = ROOT / "bench" / "results" / "insights-audio"
RATE = 8000


def scripts(split: str) -> list[Path]:
    """The call scripts of ``split`` (dev, test or all), sorted."""
    splits = ("dev", "test") if split == "all" else (split,)
    return sorted(p for s in splits for p in (CALLS / s).glob("*.json"))


def _tts(voice: str, text: str, out: Path) -> None:
    engine, name = voice.split()
    if engine == "flite":
        cmd = ["flite", "-voice", name, "-t", text, "-o", str(out)]
    else:
        cmd = ["espeak-ng", "-v", name, "-s", "155", "-w", str(out), text]
    subprocess.run(cmd, check=True, capture_output=True)


def _phone_band(raw: Path) -> npt.NDArray[np.int16]:
    out = subprocess.run(
        ["sox", "-D", str(raw), "-r", str(RATE), "-b", "16", "-c", "1", "-e", "signed",
         "-t", "raw", "-", "sinc", "300-3400", "gain", "-n", "-3"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype="<i2").astype(np.int16)


def _trim(x: npt.NDArray[np.int16], thr_db: float = -45, pad_s: float = 0.05) -> Any:
    frame = 160
    n = len(x) // frame
    if n == 0:
        return x
    energy = np.sqrt((x[: n * frame].astype(np.float64).reshape(n, frame) ** 2).mean(axis=1) + 1e-9)
    active = np.where(20 * np.log10(energy / 32768.0) > thr_db)[0]
    if len(active) == 0:
        return x
    pad = int(pad_s * RATE)
    return x[max(0, active[0] * frame - pad) : min(len(x), (active[-1] + 1) * frame + pad)]


def render(script: Path, out_dir: Path) -> Path:
    """Render one call; returns the WAV (kept if already newer than its script)."""
    meta = json.loads(script.read_text())
    wav = out_dir / f"{meta['id']}.wav"
    if wav.exists() and wav.stat().st_mtime > script.stat().st_mtime:
        return wav
    if shutil.which("flite") is None or shutil.which("sox") is None:
        raise SystemExit("rendering needs Debian TTS: apt-get install -y flite espeak-ng sox")
    rng = random.Random(meta["id"])
    t = 0.6
    segments = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, turn in enumerate(meta["turns"]):
            raw = Path(tmp) / f"{i}.wav"
            _tts(meta["voices"][turn["speaker"]], turn["text"], raw)
            x = _trim(_phone_band(raw))
            segments.append((turn, t, x))
            t += len(x) / RATE + rng.uniform(0.35, 0.9)
    stereo = np.zeros((int((t + 0.8) * RATE), 2), dtype=np.int16)
    turns = []
    for turn, start, x in segments:
        ch = 0 if turn["speaker"] == "agent" else 1
        s = round(start * RATE)
        stereo[s : s + len(x), ch] = x
        end = round(start + len(x) / RATE, 3)
        turns.append({**turn, "start": round(start, 3), "end": end})
    for ch in (0, 1):  # what a PCMU leg delivers
        stereo[:, ch] = ulaw2lin(lin2ulaw(stereo[:, ch]))
    out_dir.mkdir(parents=True, exist_ok=True)
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(stereo.astype("<i2").tobytes())
    timed = {**meta, "turns": turns, "duration_s": round(len(stereo) / RATE, 3)}
    wav.with_suffix(".json").write_text(json.dumps(timed, indent=1))
    return wav


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if not scripts(args.split):
        raise SystemExit(
            f"no calls in split {args.split!r}: {CALLS / args.split}/ is empty or missing"
        )
    for script in scripts(args.split):
        wav = render(script, args.out)
        with wave.open(str(wav)) as w:
            print(f"{wav.name}: {w.getnframes() / RATE:.1f} s")


if __name__ == "__main__":
    main()
