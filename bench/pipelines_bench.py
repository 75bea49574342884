"""Benchmarks of the processing pipelines: `python -m bench.pipelines_bench` (or `make bench`).

Prints, for generated inputs (nothing is downloaded), for both speech engines (pocketsphinx
and Whisper with the packaged tiny.en model; also STAGECOACH_WHISPER_MODEL_DIR's when set):
- real-time factor (wall and CPU) of the audio pipeline on a 10-minute recording;
- peak memory (RSS) of a child process running the audio pipeline on 10- and 60-minute
  recordings: it must not grow with length;
- word error rate on a fixed set of flite sentences (two voices);
- work lost to a SIGKILL at 50 % of Transcribing: the audio after the last checkpoint;
- pages per second for a 200-page PDF;
- rows per second and total seconds for a 100,000-row dataset through every stage.

STAGECOACH_BENCH_AUDIO_MINUTES sets the recordings' lengths (default "10,60"; the first is
also the real-time factor's and the kill's): "0.5,1" is a smoke run of a minute or two.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import resource
import signal
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

from stagecoach.pipelines.audio import AUDIO
from stagecoach.pipelines.audio_decode import decode_audio, decoded_seconds
from stagecoach.pipelines.base import ArtifactInput
from stagecoach.pipelines.local import SilentReporter, artifact_for_file, run_pipeline
from stagecoach.pipelines.registry import builtin_pipelines
from stagecoach.pipelines.speech import packaged_model_dir, whisper_installed

WER_SENTENCES = SENTENCES + MORE_SENTENCES


def say(line: str) -> None:
    print(line, flush=True)


def engines() -> list[tuple[str, dict[str, Any]]]:
    """pocketsphinx; Whisper with the packaged model, and with STAGECOACH_WHISPER_MODEL_DIR's."""
    found = [("pocketsphinx", {"engine": "pocketsphinx"})]
    if whisper_installed() and packaged_model_dir() is not None:
        found.append(("whisper tiny.en", {"engine": "whisper"}))
    model_dir = os.environ.get("STAGECOACH_WHISPER_MODEL_DIR")
    if model_dir and whisper_installed() and Path(model_dir).is_dir():
        name = f"whisper {Path(model_dir).name}"
        found.append((name, {"engine": "whisper", "whisper_model_dir": model_dir}))
    return found


def audio_minutes() -> list[float]:
    raw = os.environ.get("STAGECOACH_BENCH_AUDIO_MINUTES", "10,60")
    return [float(m) for m in raw.split(",") if m.strip()]


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


def _peak_rss_child(path: str, work: str, options: dict[str, Any], queue: Any) -> None:
    seconds = run("audio", Path(path), Path(work), options).wall
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put((peak_rss_of_this_process_mib(), seconds, usage.ru_utime + usage.ru_stime))


def peak_rss_mb(path: Path, work: Path, options: dict[str, Any]) -> tuple[float, float, float]:
    """Peak RSS (MiB), wall and CPU seconds of the audio pipeline in a fresh child process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_peak_rss_child, args=(str(path), str(work), options, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def bench_audio(work: Path) -> None:
    minutes = audio_minutes()
    first = recording(work, "first", minutes[0])
    for name, options in engines():
        m = run("audio", first, work, options)
        seconds = minutes[0] * 60
        say(
            f"audio  {name}: {minutes[0]:g}-minute mp3 in {m.wall:.1f} s, real-time factor "
            f"{m.wall / seconds:.3f} wall, {m.cpu / seconds:.3f} CPU (stages: {m.timings})"
        )
    # Memory: a tenth speech, the rest silence, so an hour decodes in minutes; the decoder
    # still streams every sample of the hour through every stage.
    for length in minutes:
        path = recording(work, f"sparse_{length:g}", length, speech_share=0.1)
        for name, options in engines():
            rss, seconds, cpu = peak_rss_mb(path, work, options)
            say(
                f"audio  {name}: peak RSS, {length:g}-minute mp3 (10 % speech): {rss:.0f} MiB "
                f"({seconds:.1f} s wall, {cpu:.1f} s CPU)"
            )
    for name, options in engines():
        bench_kill(work, first, name, options)


class FileReporter:
    """A reporter for a child that may be killed: the last progress and checkpoint, on disk."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def progress(self, units_done: float, message: str | None = None) -> None:
        (self.out / "progress").write_text(f"{units_done}")

    def set_total(self, units_total: float) -> None:
        pass

    def should_abort(self) -> bool:
        return False

    def checkpoint(self, state: dict[str, Any]) -> None:
        tmp = self.out / "checkpoint.tmp"
        tmp.write_text(json.dumps(state))
        tmp.replace(self.out / "checkpoint.json")

    def resumed_state(self) -> dict[str, Any] | None:
        return None


def _transcribe_child(art: ArtifactInput, out: str) -> None:
    AUDIO.stage("Transcribing").run(art, FileReporter(Path(out)))


def bench_kill(work: Path, path: Path, name: str, options: dict[str, Any]) -> None:
    """SIGKILL Transcribing at 50 %, resume from its checkpoint: the work the kill lost."""
    base = Path(tempfile.mkdtemp(dir=work))
    art = artifact_for_file(path, base / "work", base / "results", options=options)
    decode_audio(art, SilentReporter())
    duration = decoded_seconds(art)
    out = base / "reports"
    out.mkdir()
    ctx = multiprocessing.get_context("spawn")
    child = ctx.Process(target=_transcribe_child, args=(art, str(out)))
    started = time.perf_counter()
    child.start()
    done = 0.0
    while child.is_alive() and done < duration / 2:
        time.sleep(0.05)
        with contextlib.suppress(FileNotFoundError, ValueError):
            done = float((out / "progress").read_text() or 0)
    os.kill(child.pid or 0, signal.SIGKILL)
    child.join()
    killed_after = time.perf_counter() - started
    try:
        kept = json.loads((out / "checkpoint.json").read_text())
    except FileNotFoundError:
        kept = None
    kept_seconds = kept["next_sample"] / RATE if kept else 0.0
    again = artifact_for_file(path, base / "work2", base / "results2", options=options)
    decode_audio(again, SilentReporter())
    reporter = SilentReporter(duration, resume=kept)
    t0 = time.perf_counter()
    AUDIO.stage("Transcribing").run(again, reporter)
    rest = time.perf_counter() - t0
    pace = killed_after / done if done else 0.0  # wall seconds per audio second before it
    say(
        f"audio  {name}: SIGKILL at {done:.0f} of {duration:.0f} s of audio; checkpoint at "
        f"{kept_seconds:.0f} s: {done - kept_seconds:.1f} s of audio lost "
        f"(about {(done - kept_seconds) * pace:.1f} s of work); the rest took {rest:.1f} s"
    )


def bench_wer(work: Path) -> None:
    reference = " ".join(WER_SENTENCES)
    for voice in ("slt", "rms"):
        wav = speech_wav(WER_SENTENCES, work / f"wer_{voice}.wav", voice)
        for name, options in engines():
            m = run("audio", wav, work, options)
            hypothesis = (m.artifact.results_dir / f"wer_{voice}.transcript.txt").read_text()
            wer = word_error_rate(reference, hypothesis)
            seconds = decoded_seconds(m.artifact)
            say(
                f"wer    {name}, flite voice {voice}, {len(WER_SENTENCES)} sentences: {wer:.3f} "
                f"(real-time factor {m.wall / seconds:.2f} wall, {m.cpu / seconds:.2f} CPU, "
                "with the model's load)"
            )


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
