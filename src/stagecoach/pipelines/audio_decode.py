"""Decoding: any audio or video file to 16 kHz mono 16-bit PCM, streamed to a file.

PyAV (FFmpeg inside its wheel) demuxes only the audio stream and resamples frame by frame,
so memory stays flat whatever the length; the PCM lands in ``work_dir`` for Transcribing.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import av

from stagecoach.domain.errors import StageError
from stagecoach.pipelines.base import ArtifactInput, Reporter
from stagecoach.pipelines.progress import StageProgress

SAMPLE_RATE = 16000
BYTES_PER_SECOND = SAMPLE_RATE * 2  # s16 mono
PCM_FILE = "audio.s16le"
META_FILE = "decoded.json"

# A few undecodable packets happen in real files (a damaged frame, junk before the first
# header); more than this share of them means the file is not audio we can trust.
MAX_BAD_PACKET_SHARE = 0.05
MIN_BAD_PACKETS_TO_FAIL = 10
# Decoded audio shorter than this share of the duration the file declares means truncation.
MIN_DECLARED_SHARE = 0.9

HINT_FORMATS = "Accepted: wav, mp3, m4a, ogg, opus, flac, webm, and video mp4, mov, mkv, webm."


def unreadable(detail: str) -> StageError:
    return StageError(
        "audio_unreadable",
        f"The file could not be read as audio or video: {detail}.",
        hint=f"Check that the file plays on your computer and upload it again. {HINT_FORMATS}",
    )


def truncated(decoded: float, declared: float) -> StageError:
    return StageError(
        "audio_truncated",
        f"The file is incomplete: only {decoded:.0f} s of its {declared:.0f} s could be decoded.",
        hint="The upload or the original recording was cut short. Upload the complete file.",
    )


def no_audio_stream() -> StageError:
    return StageError(
        "no_audio_stream",
        "The file has no audio track, so there is nothing to transcribe.",
        hint="Upload a recording that contains sound (a video must include its audio track).",
    )


def _open(path: Path) -> Any:
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as exc:
        raise unreadable("it is not a recognisable media file, or it is incomplete") from exc


def _declared_seconds(container: Any, stream: Any) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return None


def _wav_header_seconds(path: Path) -> float | None:
    """Length a WAV header promises. FFmpeg clamps it to the file's size, hiding truncation."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    pos, byte_rate = 12, 0
    while pos + 8 <= len(head):
        chunk, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if chunk == b"fmt ":
            byte_rate = struct.unpack("<I", head[pos + 16 : pos + 20])[0]
        elif chunk == b"data":
            # 0 and 0xFFFFFFFF mark a stream written without knowing its length.
            return size / byte_rate if byte_rate and 0 < size < 0xFFFFFFFF else None
        pos += 8 + size + (size & 1)
    return None


def _declared_is_estimate(container: Any, path: Path) -> bool:
    """True when FFmpeg guessed the length from the bitrate: an mp3 without a VBR header.

    Such a guess is wrong for variable-bitrate files, so it cannot reveal truncation.
    """
    if container.format.name != "mp3":
        return False
    with open(path, "rb") as f:
        head = f.read(64 * 1024)
    return not any(tag in head for tag in (b"Xing", b"Info", b"VBRI"))


def probe_duration(path: Path) -> float | None:
    """Seconds of audio the file declares, from its header; None when unknown or unreadable."""
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            if not container.streams.audio:
                return None
            return _declared_seconds(container, container.streams.audio[0])
    except av.FFmpegError:
        return None


def decode_audio(art: ArtifactInput, reporter: Reporter) -> None:
    """Stage "Decoding": write ``work_dir/audio.s16le`` and ``work_dir/decoded.json``."""
    with _open(art.file_path) as container:
        if not container.streams.audio:
            raise no_audio_stream()
        stream = container.streams.audio[0]
        source = {"codec": stream.codec_context.name, "container": container.format.name}
        declared = _declared_seconds(container, stream)
        if container.format.name == "wav":
            declared = _wav_header_seconds(art.file_path) or declared
        trust_declared = declared is not None and not _declared_is_estimate(
            container, art.file_path
        )
        progress = StageProgress(
            reporter, art.media.get("duration_seconds") or declared or 0.0, "Decoding audio..."
        )
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        pcm_path = art.work_dir / PCM_FILE
        samples = packets = bad = 0
        with open(pcm_path, "wb") as out:

            def write(frames: list[Any]) -> None:
                nonlocal samples
                for frame in frames:
                    out.write(frame.to_ndarray().tobytes())
                    samples += frame.samples

            try:
                for packet in container.demux(stream):
                    packets += 1
                    try:
                        decoded = packet.decode()
                    except av.FFmpegError:
                        bad += 1
                        continue
                    for frame in decoded:
                        write(resampler.resample(frame))
                    progress.update(samples / SAMPLE_RATE)
                write(resampler.resample(None))
            except av.FFmpegError as exc:  # the container itself, not one packet, is broken
                at = samples / SAMPLE_RATE
                raise unreadable(f"it is damaged {at:.0f} s into the recording ({exc})") from exc

    seconds = samples / SAMPLE_RATE
    if bad >= MIN_BAD_PACKETS_TO_FAIL and bad > MAX_BAD_PACKET_SHARE * packets:
        raise unreadable(f"{bad} of its {packets} audio packets are damaged")
    if samples == 0:
        if bad:
            raise unreadable("no audio could be decoded from it")
        raise StageError(
            "audio_empty",
            "The file's audio track is empty.",
            hint="Upload a recording that contains sound.",
        )
    if (
        trust_declared
        and declared
        and declared - seconds > 1.0
        and seconds < MIN_DECLARED_SHARE * declared
    ):
        raise truncated(seconds, declared)
    meta = {
        "duration_seconds": round(seconds, 3),
        "declared_seconds": declared,
        "sample_rate": SAMPLE_RATE,
        **source,
        "damaged_packets": bad,
    }
    (art.work_dir / META_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    progress.update(seconds)
    progress.finish("Audio decoded")


def decoded_meta(work_dir: Path) -> dict[str, Any] | None:
    try:
        return json.loads((work_dir / META_FILE).read_text())
    except FileNotFoundError:
        return None


def decoded_seconds(art: ArtifactInput) -> float:
    """Seconds of decoded audio, once Decoding ran; else what the file says it holds."""
    meta = decoded_meta(art.work_dir)
    if meta:
        return float(meta["duration_seconds"])
    return decoding_total(art)


def decoding_total(art: ArtifactInput) -> float:
    known = art.media.get("duration_seconds")
    if known:
        return float(known)
    return probe_duration(art.file_path) or 0.0
