"""``callscope transcribe`` and ``insights``: a recording or transcript, offline."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from callscope.cli.common import Subcommands, setup_logging

__all__ = ["add_insights", "add_transcribe"]


def _cmd_transcribe(args: argparse.Namespace) -> int:
    from callscope.transcription.engines import load_engine
    from callscope.transcription.transcript import transcribe_file

    setup_logging("WARNING")
    engine = load_engine(args.engine, args.model_dir, threads=args.threads)
    show = sys.stderr.isatty() and not args.quiet
    if show:
        from rich.progress import Progress as RichProgress

        with RichProgress(transient=True) as bar:
            task = bar.add_task(f"transcribing {args.file.name}", total=1.0)
            utterances = transcribe_file(
                args.file, engine, progress=lambda d, t: bar.update(task, completed=d / max(t, 1))
            )
    else:
        utterances = transcribe_file(args.file, engine)
    if args.format == "json":
        print(
            json.dumps(
                {
                    "file": str(args.file),
                    "engine": engine.name,
                    "utterances": [u.as_dict() for u in utterances],
                },
                indent=1,
            )
        )
    else:
        for u in utterances:
            print(f"[{u.start_ms / 1000:7.2f} – {u.end_ms / 1000:7.2f}] {u.speaker}: {u.text}")
    return 0


def _cmd_insights(args: argparse.Namespace) -> int:
    from callscope.insights.embeddings import MiniLM
    from callscope.insights.textpath import analyze_text, load_file

    setup_logging("WARNING")
    utterances = load_file(args.file, engine=args.engine)
    embed = None if args.no_embeddings else MiniLM()
    document = analyze_text(utterances, source=args.file.name, embed=embed)
    print(json.dumps(document, indent=1, ensure_ascii=False))
    return 0


def add_transcribe(sub: Subcommands) -> None:
    """``transcribe``: transcribe a call recording offline."""
    p = sub.add_parser(
        "transcribe",
        help="transcribe a call recording offline",
        description="Transcribe an 8 kHz WAV offline (stereo: agent left, customer right; mono: "
        "one speaker) with the same voice activity segmentation and engine live calls use.",
    )
    p.add_argument("file", type=Path, help="8 kHz WAV, 16-bit PCM or μ-law")
    p.add_argument("--format", choices=("json", "text"), default="json")
    p.add_argument(
        "--engine",
        default="whisper-tiny",
        help="whisper-tiny (default, model in a package), whisper-base, vosk or sherpa-onnx",
    )
    p.add_argument(
        "--model-dir",
        type=Path,
        help="model folder (default: the packaged model, or CALLSCOPE_ASR_MODEL_DIR)",
    )
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the engine (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_transcribe)


def add_insights(sub: Subcommands) -> None:
    """``insights``: print the insights of a transcript or recording."""
    p = sub.add_parser(
        "insights",
        help="print the insights of a transcript or recording",
        description="Print the RingSense insights document (summary, highlights, next steps, "
        "metrics) of a transcript: JSON in the REST transcript shape (GET /calls/{id}/"
        "transcript), WebVTT (?format=vtt), or an 8 kHz WAV, transcribed first.",
    )
    p.add_argument("file", type=Path, help="transcript .json or .vtt, or an 8 kHz .wav")
    p.add_argument("--engine", default="whisper-tiny", help="recogniser for a WAV (default)")
    p.add_argument(
        "--no-embeddings",
        action="store_true",
        help="judge next steps on frame features alone (no sentence model)",
    )
    p.set_defaults(func=_cmd_insights)
