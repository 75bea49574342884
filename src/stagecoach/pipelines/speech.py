"""One interface over the speech engines, and the choice between them.

``pocketsphinx`` is the default: its English model ships inside the PyPI package.
``whisper`` (faster-whisper) is far more accurate but needs a model directory the operator
installs; ``auto`` uses it when one is configured. Nothing is ever downloaded.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.transcript import Segment

ENGINES = ("pocketsphinx", "whisper")


class SpeechEngine(Protocol):
    name: str

    def transcribe(self, pcm_path: Path, progress: StageProgress) -> Iterator[Segment]:
        """Segments of 16 kHz mono s16 PCM, in order; advances ``progress`` in audio seconds."""
        ...


def whisper_model_dir(options: dict[str, Any]) -> Path | None:
    value = options.get("whisper_model_dir")
    return Path(value) if value else None


def engine_name(options: dict[str, Any]) -> str:
    """The engine a job will use: ``options["engine"]`` (auto, pocketsphinx, whisper)."""
    wanted = str(options.get("engine") or options.get("transcription_engine") or "auto")
    if wanted == "auto":
        model_dir = whisper_model_dir(options)
        usable = model_dir is not None and model_dir.is_dir()
        return "whisper" if usable and whisper_installed() else "pocketsphinx"
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
