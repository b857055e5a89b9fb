"""`callscope transcribe` with the real default engine on real (synthetic-TTS) call audio."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from callscope.media.wav import WavWriter, read_wav
from callscope.sim.runner import default_source

pytestmark = pytest.mark.slow


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callscope", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture(scope="module")
def excerpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 s of the bundled demo call: the agent's greeting, the customer's problem."""
    _, pcm = read_wav(default_source())
    path = tmp_path_factory.mktemp("asr") / "excerpt.wav"
    w = WavWriter(path)
    w.write_stereo(pcm[: 16 * 8000, 0].copy(), pcm[: 16 * 8000, 1].copy())
    w.close()
    return path


def words(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum() or c == " ")


def test_known_phrases_land_on_the_right_speaker(excerpt: Path) -> None:
    result = cli("transcribe", str(excerpt), "--quiet")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["engine"] == "whisper-tiny"
    utterances = body["utterances"]
    agent = " ".join(words(u["text"]) for u in utterances if u["speaker"] == "agent")
    customer = " ".join(words(u["text"]) for u in utterances if u["speaker"] == "customer")
    assert "thank you for calling northwind internet support" in agent
    assert "how can i help you today" in agent
    assert "account" in customer
    assert "password" in customer
    assert "northwind" not in customer  # the agent's words never leak to the customer
    assert "password" not in agent
    first = utterances[0]
    assert first["speaker"] == "agent"
    assert 0 <= first["start_ms"] < 1000 < first["end_ms"] <= 7500
    assert all(0 < u["confidence"] <= 1 for u in utterances)
    times = [u["start_ms"] for u in utterances]
    assert times == sorted(times)


def test_mono_files_and_text_output(excerpt: Path, tmp_path: Path) -> None:
    _, pcm = read_wav(excerpt)
    mono = tmp_path / "mono.wav"
    w = WavWriter(mono, channels=1)
    w.write_interleaved(pcm[:, 0].astype("<i2").tobytes())
    w.close()
    result = cli("transcribe", str(mono), "--format", "text", "--quiet")
    assert result.returncode == 0, result.stderr
    assert "speaker: Thank you for calling" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "vosk", "--model-dir", "/nonexistent"], "pip install vosk"),
        (["--engine", "sherpa-onnx", "--model-dir", "/nonexistent"], "pip install sherpa-onnx"),
        (["--engine", "whisper-base"], "needs a model folder"),
        (["--engine", "whisper-tiny", "--model-dir", "/nonexistent"], "no model.bin"),
        (["--engine", "parrot"], "unknown speech engine"),
    ],
)
def test_missing_engines_and_models_say_what_to_install(
    excerpt: Path, args: list[str], message: str
) -> None:
    result = cli("transcribe", str(excerpt), *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_bad_files_are_explained(tmp_path: Path) -> None:
    wide = tmp_path / "wide.wav"
    w = WavWriter(wide, rate_hz=16000, channels=1)
    w.write_interleaved(np.zeros(1600, dtype="<i2").tobytes())
    w.close()
    result = cli("transcribe", str(wide))
    assert result.returncode == 2
    assert "16000 Hz" in result.stderr
    result = cli("transcribe", str(tmp_path / "missing.wav"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
