"""The error object every failed job and artifact carries (design.md, "Errors carry ...")."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

# Absolute server paths, quoted (as ffmpeg and OSError print them) or bare.
_QUOTED_PATH = re.compile(r"""(['"])/[^'"\n]*\1""")
_BARE_PATH = re.compile(r"(?<![\w:/.~-])/(?:[\w.~-]+/)+[\w.~-]*")


def without_paths(text: str) -> str:
    """``text`` with every absolute path replaced by "<file>": a library's message about
    a stored file names where the server keeps it, which no client may learn."""
    text = _QUOTED_PATH.sub(lambda m: f"{m.group(1)}<file>{m.group(1)}", text)
    return _BARE_PATH.sub("<file>", text)


class ErrorCategory(StrEnum):
    INPUT = "input"  # the file itself: corrupt, unsupported, empty
    PROCESSING = "processing"  # stage code failed on a valid file
    DEPENDENCY = "dependency"  # something outside: disk, database, an engine
    INTERNAL = "internal"  # our fault, or a lost worker
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class JobError:
    code: str
    category: ErrorCategory
    retryable: bool
    message: str
    hint: str

    def __post_init__(self) -> None:
        # Every error a job or artifact carries passes here: no server path gets through.
        object.__setattr__(self, "message", without_paths(self.message))
        object.__setattr__(self, "hint", without_paths(self.hint))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["category"] = str(self.category)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JobError:
        return cls(
            code=str(d.get("code") or "error"),
            category=ErrorCategory(d.get("category") or "processing"),
            retryable=bool(d.get("retryable", False)),
            message=str(d.get("message") or "Processing failed. Please try again."),
            hint=str(d.get("hint") or ""),
        )


class StageError(Exception):
    """Raised by stage code; the worker turns it into the job's or artifact's error."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        hint: str = "",
        retryable: bool = False,
        category: ErrorCategory = ErrorCategory.INPUT,
    ) -> None:
        super().__init__(message)
        self.error = JobError(code, category, retryable, message, hint)


def lost_worker_error() -> JobError:
    return JobError(
        code="worker_lost",
        category=ErrorCategory.INTERNAL,
        retryable=False,
        message="The worker processing this job stopped responding too many times.",
        hint="Check that workers are running and healthy (see docs/operations.md), "
        "then retry the job.",
    )


def upload_interrupted_error() -> JobError:
    return JobError(
        code="upload_interrupted",
        category=ErrorCategory.INPUT,
        retryable=False,
        message="Upload was interrupted",
        hint="Upload the file again.",
    )


def storage_full_error() -> JobError:
    return JobError(
        code="storage_full",
        category=ErrorCategory.DEPENDENCY,
        retryable=False,
        message="The server ran out of disk space while storing the upload",
        hint="Ask an administrator to free space on the server, then upload the file again.",
    )


def upload_failed_error() -> JobError:
    return JobError(
        code="upload_failed",
        category=ErrorCategory.INTERNAL,
        retryable=False,
        message="The upload could not be stored",
        hint="Upload the file again; if it keeps failing, the server's logs say why.",
    )
