"""The source tree keeps the shape the project holds itself to: no module over 500 lines, and
a supervision core that is pure (no event loop, web server or cluster in it)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "callscope"
MOST_LINES = 500


def test_no_module_is_over_five_hundred_lines() -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in sorted(SRC.rglob("*.py"))
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MOST_LINES
    }
    assert long == {}


def test_the_supervision_core_imports_no_event_loop_web_server_or_cluster() -> None:
    tree = ast.parse((SRC / "supervision" / "core.py").read_text(encoding="utf-8"))
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported  # the file was read and has imports to check
    banned = ("asyncio", "aiohttp", "callscope.cluster")
    assert [m for m in imported if m.startswith(banned)] == []
    assert "cluster" not in (SRC / "supervision" / "core.py").read_text(encoding="utf-8")
