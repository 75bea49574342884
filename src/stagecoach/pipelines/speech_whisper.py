"""faster-whisper over a local CTranslate2 model directory (optional extra ``whisper``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.progress import StageProgress
from stagecoach.pipelines.transcript import Segment, Word

SAMPLE_RATE = 16000
# Whisper works on the audio as one array; windows of ten minutes keep memory flat.
WINDOW_SECONDS = 600


class WhisperEngine:
    name = "whisper"

    def __init__(self, model_dir: Path | None, options: dict[str, Any]) -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise StageError(
                "whisper_not_installed",
                "The Whisper engine is selected but faster-whisper is not installed.",
                hint="Install it with: pip install 'stagecoach[whisper]', or set "
                "STAGECOACH_TRANSCRIPTION_ENGINE=pocketsphinx.",
                category=ErrorCategory.DEPENDENCY,
            ) from exc
        if model_dir is None or not (model_dir / "model.bin").is_file():
            raise StageError(
                "whisper_model_missing",
                f"No Whisper model found in {model_dir}.",
                hint="Set STAGECOACH_WHISPER_MODEL_DIR to a CTranslate2 Whisper model directory "
                "(see README: installing a Whisper model).",
                category=ErrorCategory.DEPENDENCY,
            )
        self.language = options.get("language") or None
        self.model = WhisperModel(
            str(model_dir),
            device="cpu",
            compute_type=str(options.get("whisper_compute_type") or "int8"),
            local_files_only=True,
        )

    def transcribe(self, pcm_path: Path, progress: StageProgress) -> Iterator[Segment]:
        window_samples = WINDOW_SECONDS * SAMPLE_RATE
        offset_samples = 0
        while True:
            pcm = np.fromfile(
                pcm_path, dtype="<i2", count=window_samples, offset=offset_samples * 2
            )
            if pcm.size == 0:
                break
            offset = offset_samples / SAMPLE_RATE
            audio = pcm.astype(np.float32) / 32768.0
            segments, _info = self.model.transcribe(
                audio, language=self.language, vad_filter=True, word_timestamps=True
            )
            for s in segments:
                words = [
                    Word(w.word.strip(), round(offset + w.start, 2), round(offset + w.end, 2))
                    for w in (s.words or [])
                    if w.word.strip()
                ]
                yield Segment(
                    round(offset + s.start, 2), round(offset + s.end, 2), s.text.strip(), words
                )
                progress.update(offset + s.end)
            offset_samples += pcm.size
            progress.update(offset_samples / SAMPLE_RATE)
