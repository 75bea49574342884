"""Zip containers (docx, xlsx) read without trusting them.

A zip's central directory says how large each member inflates to, and ``zipfile`` never
inflates a member past the size it declares. So a bomb is caught before anything is
inflated: by the sizes it declares (whole, and the ratio to its compressed size), and then
by reading what we read ourselves in bounded chunks. Every zip-based reader (the upload
probe and the pipelines) calls ``check`` first, with the same limits, so a file the probe
accepts is one the pipeline can read.

Parts a library parses whole into memory (document.xml, sharedStrings.xml, styles) get a
tighter cap than worksheets, which openpyxl streams row by row. A leaf module (standard
library only), so the probe and the pipelines' stage code can both use it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

MIB = 2**20
WHOLE_PART_LIMIT = 32 * MIB  # a part parsed whole (DOM): ~5 million elements at most
STREAMED_PART_LIMIT = 512 * MIB  # a worksheet, read as a stream
TOTAL_LIMIT = 1024 * MIB  # every member together
RATIO_LIMIT = 100  # inflated / compressed, for members past RATIO_FROM
RATIO_FROM = 1 * MIB  # small members may compress as well as they like
MAX_MEMBERS = 10_000
STREAMED = ("xl/worksheets/",)  # prefixes of members read as a stream
CHUNK = 64 * 1024


class TooComplex(ValueError):
    """The container would take more memory or time to read than any real document.
    The probe answers it with 422, stage code with a permanent input error."""

    def __init__(self, what: str, why: str) -> None:
        super().__init__(f"the {what} is too large or too complex to read safely ({why})")


def limit_for(name: str) -> int:
    return STREAMED_PART_LIMIT if name.startswith(STREAMED) else WHOLE_PART_LIMIT


def check(path: Path | str, what: str = "file") -> None:
    """Refuse a zip whose members, as declared, inflate too far. Raises ``TooComplex``;
    a file that is no zip at all raises ``zipfile.BadZipFile`` as before."""
    with zipfile.ZipFile(path) as z:
        check_open(z, what)


def check_open(z: zipfile.ZipFile, what: str = "file") -> None:
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise TooComplex(what, f"{len(infos)} parts")
    total = 0
    for info in infos:
        size = info.file_size
        total += size
        if size > limit_for(info.filename):
            raise TooComplex(what, f"'{_name(info)}' inflates to {size // MIB} MiB")
        if size > RATIO_FROM and size > RATIO_LIMIT * max(info.compress_size, 1):
            ratio = size // max(info.compress_size, 1)
            raise TooComplex(what, f"'{_name(info)}' inflates {ratio} times")
    if total > TOTAL_LIMIT:
        raise TooComplex(what, f"its parts inflate to {total // MIB} MiB")


def read_member(
    z: zipfile.ZipFile, name: str, limit: int | None = None, what: str = "file"
) -> bytes:
    """A member's bytes, read in chunks and refused past ``limit`` (default: its part's)."""
    cap = limit_for(name) if limit is None else limit
    out = bytearray()
    with z.open(name) as f:
        while chunk := f.read(CHUNK):
            out += chunk
            if len(out) > cap:
                raise TooComplex(what, f"'{name[:80]}' is larger than {cap // MIB or 1} MiB")
    return bytes(out)


def _name(info: zipfile.ZipInfo) -> str:
    return info.filename[:80]
