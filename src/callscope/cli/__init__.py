"""The ``callscope`` command: serve, drain, simulate, demo, db, admin, transcribe, insights,
settings (one module per command group; each adds its parser and runs its command)."""

from __future__ import annotations

import argparse
import errno
import sys

from callscope import __version__
from callscope.cli.admin import add_admin, add_db
from callscope.cli.demo import add_demo
from callscope.cli.offline import add_insights, add_transcribe
from callscope.cli.server import add_drain, add_serve, add_settings
from callscope.cli.simulate import add_simulate
from callscope.errors import CallscopeError

__all__ = ["build_parser", "main"]

DESCRIPTION = """\
callscope: self-hosted real-time call supervision and conversation intelligence.
Receives RingCX call streams, records each call as a stereo WAV (left = agent,
right = caller side) and serves REST, metrics and health on one port."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callscope", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"callscope {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (
        add_serve,
        add_drain,
        add_simulate,
        add_demo,
        add_db,
        add_admin,
        add_transcribe,
        add_insights,
        add_settings,
    ):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except CallscopeError as exc:
        print(f"callscope: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"callscope: error: the address is in use ({exc.strerror}); another server is "
                "running there: stop it or pick another --port / CALLSCOPE_PORT",
                file=sys.stderr,
            )
            return 2
        raise
    except KeyboardInterrupt:
        return 130
    return code
