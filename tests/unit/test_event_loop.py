"""The event loop chosen by the ``event_loop`` setting."""

from __future__ import annotations

import asyncio
import sys

import pytest

from callscope.config import Settings
from callscope.errors import ConfigError
from callscope.server import new_event_loop


def test_asyncio_loop_on_request() -> None:
    loop = new_event_loop("asyncio")
    try:
        assert type(loop).__module__.startswith("asyncio")
    finally:
        loop.close()


@pytest.mark.skipif(sys.platform == "win32", reason="uvloop is not available on Windows")
@pytest.mark.parametrize("kind", ["auto", "uvloop"])
def test_uvloop_is_used_when_installed(kind: str) -> None:
    loop = new_event_loop(kind)
    try:
        assert type(loop).__module__.startswith("uvloop")
        assert loop.run_until_complete(asyncio.sleep(0, result=7)) == 7
    finally:
        loop.close()


def test_unknown_event_loop_is_refused() -> None:
    with pytest.raises(ConfigError, match="use auto, uvloop or asyncio"):
        Settings.from_sources(env={"CALLSCOPE_EVENT_LOOP": "trio"})
