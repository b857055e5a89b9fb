"""What every ``callscope`` command shares: logging set-up and the settings of a run."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import TypeAlias

from callscope.config import Settings

__all__ = ["Subcommands", "load_settings", "setup_logging"]

#: the ``COMMAND`` subparsers each command module adds its parser to
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiohttp.access").setLevel(
        logging.INFO if level.upper() == "DEBUG" else logging.WARNING
    )


def load_settings(args: argparse.Namespace) -> Settings:
    return Settings.from_sources(args=args)
