"""The human lines of a status: time left and what is happening, in the seeds' words.

Rounding follows how much the number can be trusted: minutes under an hour (to 5 minutes
past 20), half hours up to 10 hours, whole hours up to two days, then days. A
precise-looking "~37 minutes" would promise more than any estimate knows.
"""

from __future__ import annotations

from stagecoach.domain.status import JobStatus

ALMOST_DONE_ABOVE = 90.0  # percent (seed 001 AC2)
ESTIMATING = "Estimating time left..."

_FILE_TYPE_WORDS = {
    "audio": "audio",
    "video": "video",
    "document": "document",
    "dataset": "data",
}


def _plural(n: float, word: str) -> str:
    text = f"{n:g}"
    return f"{text} {word}" if text == "1" else f"{text} {word}s"


def duration_text(seconds: float) -> str:
    """'5 minutes', '3.5 hours', '2 days': rounded to what an estimate can promise."""
    minutes = seconds / 60
    if minutes < 57.5:
        n = max(1, round(minutes))
        return _plural(5 * round(n / 5) if n > 20 else n, "minute")
    hours = seconds / 3600
    if hours < 9.75:
        return _plural(round(hours * 2) / 2, "hour")
    if hours < 47.5:
        return _plural(round(hours), "hour")
    return _plural(round(hours / 24), "day")


def clock_text(seconds: float) -> str:
    """'23:10', '60:00': minutes and seconds of a recording, the minutes not wrapped."""
    whole = max(int(seconds), 0)
    return f"{whole // 60}:{whole % 60:02d}"


def resume_note(unit: str, done: float, total: float | None) -> str:
    """The timeline's line for a stage that carries on from a checkpoint."""
    if unit == "audio_seconds":
        return f"resumed at {clock_text(done)} of {clock_text(total or done)}"
    return f"resumed after {done:g} of {total or done:g} {unit.replace('_', ' ')}"


def eta_text(
    seconds: float | None, progress: float | None = None, stalled_for: float | None = None
) -> str:
    """'~5 minutes left', '~3.5 hours left', 'less than a minute left', 'Almost done'.

    ``stalled_for`` (seconds since the last progress report) is given only once the job is
    flagged stalled; it wins over everything, because then no estimate can be trusted.
    """
    if stalled_for is not None:
        return f"Stalled: no progress for {duration_text(stalled_for)}"
    if progress is not None and progress > ALMOST_DONE_ABOVE:
        return "Almost done"
    if seconds is None:
        return ESTIMATING
    if seconds < 60:
        return "less than a minute left"
    return f"~{duration_text(seconds)} left"


def queue_text(position: int | None, wait_seconds: float | None = None) -> str:
    """'Waiting in queue (position 3, starts in ~5 minutes)'."""
    if position is None:
        return "Waiting to start..."
    if wait_seconds is None or wait_seconds < 60:
        return f"Waiting in queue (position {position})"
    return f"Waiting in queue (position {position}, starts in ~{duration_text(wait_seconds)})"


def status_message(
    status: JobStatus | str,
    *,
    file_type: str | None = None,
    progress: float | None = None,
    complete_message: str | None = None,
    error_message: str | None = None,
    retryable: bool = True,
    queue_position: int | None = None,
) -> str:
    """The job's ``message``: 'Processing audio...', 'Almost done', 'Transcription complete!',
    'Processing failed. Please try again.' with the cause after it."""
    status = JobStatus(status)
    if status is JobStatus.PENDING:
        return queue_text(queue_position)
    if status is JobStatus.PROCESSING:
        if progress is not None and progress > ALMOST_DONE_ABOVE:
            return "Almost done"
        word = _FILE_TYPE_WORDS.get(file_type or "")
        return f"Processing {word}..." if word else "Processing..."
    if status is JobStatus.COMPLETED:
        return complete_message or "Processing complete!"
    if status is JobStatus.CANCELLED:
        return "Processing cancelled."
    # failed: retry only helps with a transient cause; a corrupt file needs a new upload
    head = "Processing failed. Please try again." if retryable else "Processing failed."
    return f"{head} {error_message}" if error_message else head
