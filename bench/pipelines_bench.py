"""Benchmarks of the processing pipelines: `python -m bench.pipelines_bench` (or `make bench`).

Prints, for generated inputs (nothing is downloaded):
- real-time factor of the audio pipeline on a 10-minute recording, per available engine;
- peak memory (RSS) of a child process running the audio pipeline on 10- and 60-minute
  recordings: it must not grow with length;
- word error rate on a fixed set of flite sentences (two voices), per available engine;
- pages per second for a 200-page PDF;
- rows per second and total seconds for a 100,000-row dataset through every stage.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from tests.pipelines.datasets import sales_rows, write_delimited
from tests.pipelines.documents import make_pdf
from tests.pipelines.media import RATE, encode, read_wav, speech_wav, write_wav
from tests.pipelines.speech_fixtures import MORE_SENTENCES, SENTENCES, word_error_rate

from stagecoach.pipelines.base import ArtifactInput
from stagecoach.pipelines.local import SilentReporter, artifact_for_file, run_pipeline
from stagecoach.pipelines.registry import builtin_pipelines
from stagecoach.pipelines.speech import whisper_installed

WER_SENTENCES = SENTENCES + MORE_SENTENCES


def say(line: str) -> None:
    print(line, flush=True)


def engines() -> list[tuple[str, dict[str, Any]]]:
    """pocketsphinx always; whisper when faster-whisper and a model directory are present."""
    found = [("pocketsphinx", {"engine": "pocketsphinx"})]
    model_dir = os.environ.get("STAGECOACH_WHISPER_MODEL_DIR")
    if model_dir and whisper_installed() and Path(model_dir).is_dir():
        found.append(("whisper", {"engine": "whisper", "whisper_model_dir": model_dir}))
    return found


class Measured(NamedTuple):
    wall: float  # seconds
    cpu: float  # seconds of this process's CPU: what the run costs on a busy machine
    timings: dict[str, float]  # wall seconds per stage
    artifact: ArtifactInput


def run(pipeline: str, path: Path, work: Path, options: dict[str, Any] | None = None) -> Measured:
    base = Path(tempfile.mkdtemp(dir=work))
    art = artifact_for_file(path, base / "work", base / "results", options=options)
    started, cpu_started = time.perf_counter(), time.process_time()
    timings = run_pipeline(builtin_pipelines()[pipeline], art, lambda s, t: SilentReporter(t))
    return Measured(time.perf_counter() - started, time.process_time() - cpu_started, timings, art)


def recording(work: Path, name: str, minutes: float, speech_share: float = 1.0) -> Path:
    """An mp3 of flite speech repeated to ``minutes``; below share 1, silence fills the rest."""
    clip = read_wav(speech_wav(WER_SENTENCES, work / f"{name}_clip.wav", "slt"))
    if speech_share < 1.0:
        gap = np.zeros(int(len(clip) * (1 / speech_share - 1)), dtype="<i2")
        clip = np.concatenate([clip, gap])
    total = int(minutes * 60 * RATE)
    samples = np.tile(clip, total // len(clip) + 1)[:total]
    wav = write_wav(samples, work / f"{name}.wav")
    return encode(wav, work / f"{name}.mp3", "libmp3lame")


def peak_rss_of_this_process_mib() -> float:
    """Peak RSS of this process since it started.

    On Linux, ru_maxrss survives exec: a child spawned from a parent holding 1 GB reports
    at least 1 GB. The memory map's own high-water mark (VmHWM) starts afresh at exec.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_child(path: str, work: str, queue: Any) -> None:
    seconds = run("audio", Path(path), Path(work), {"engine": "pocketsphinx"}).wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((peak_rss_of_this_process_mib(), seconds, usage.ru_utime + usage.ru_stime))


def peak_rss_mb(path: Path, work: Path) -> tuple[float, float, float]:
    """Peak RSS (MiB), wall and CPU seconds of the audio pipeline in a fresh child process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_peak_rss_child, args=(str(path), str(work), queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def bench_audio(work: Path) -> None:
    ten = recording(work, "ten_minutes", 10)
    for name, options in engines():
        m = run("audio", ten, work, options)
        say(
            f"audio  {name}: 10-minute mp3 in {m.wall:.1f} s, real-time factor "
            f"{m.wall / 600:.3f} wall, {m.cpu / 600:.3f} CPU (stages: {m.timings})"
        )
    if len(engines()) == 1:
        say(
            "audio  whisper: not measured (no faster-whisper model; set "
            "STAGECOACH_WHISPER_MODEL_DIR and install stagecoach[whisper])"
        )
    # Memory: a tenth speech, the rest silence, so an hour decodes in minutes; the decoder
    # still streams every sample of the hour through every stage.
    for minutes in (10, 60):
        path = recording(work, f"sparse_{minutes}", minutes, speech_share=0.1)
        rss, seconds, cpu = peak_rss_mb(path, work)
        say(
            f"audio  peak RSS, {minutes}-minute mp3 (10 % speech): {rss:.0f} MiB "
            f"({seconds:.1f} s wall, {cpu:.1f} s CPU)"
        )


def bench_wer(work: Path) -> None:
    reference = " ".join(WER_SENTENCES)
    for voice in ("slt", "rms"):
        wav = speech_wav(WER_SENTENCES, work / f"wer_{voice}.wav", voice)
        for name, options in engines():
            art = run("audio", wav, work, options).artifact
            hypothesis = (art.results_dir / "transcript.txt").read_text()
            wer = word_error_rate(reference, hypothesis)
            say(f"wer    {name}, flite voice {voice}, {len(WER_SENTENCES)} sentences: {wer:.3f}")


def bench_document(work: Path) -> None:
    pdf = make_pdf(work / "two_hundred_pages.pdf", pages=200)
    m = run("document", pdf, work)
    say(
        f"document  200-page PDF: {200 / m.timings['Extracting']:.0f} pages/s extracting, "
        f"{200 / m.wall:.0f} pages/s through all stages ({m.wall:.2f} s, {m.cpu:.2f} s CPU; "
        f"{m.timings})"
    )


def bench_dataset(work: Path) -> None:
    csv_path = write_delimited(work / "hundred_thousand.csv", sales_rows(100_000))
    m = run("dataset", csv_path, work)
    say(
        f"dataset  100,000 rows x 8 columns: {m.wall:.2f} s through all stages "
        f"({m.cpu:.2f} s CPU), {100_000 / m.wall:,.0f} rows/s ({m.timings})"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="stagecoach-bench-") as tmp:
        work = Path(tmp)
        say(
            f"pipelines bench on {os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}), "
            f"Python {sys.version.split()[0]}"
        )
        bench_dataset(work)
        bench_document(work)
        bench_wer(work)
        bench_audio(work)


if __name__ == "__main__":
    main()
