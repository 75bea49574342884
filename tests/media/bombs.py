"""Hostile zip containers, made by the tests: a few MB on disk, GiBs once inflated."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.samples import docx_bytes, xlsx_bytes

GIB = 2**30


def _copy_with(
    source: bytes, out: Path, name: str, size: int, piece: bytes, head: bytes = b""
) -> Path:
    """``source`` (a real docx/xlsx) with member ``name`` replaced by ``head`` and then
    ``piece`` repeated up to ``size`` bytes, written as a stream (the test's own memory
    stays small)."""
    src = out.with_suffix(".src")
    src.write_bytes(source)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != name:
                zout.writestr(info, zin.read(info.filename))
        member = zipfile.ZipInfo(name)
        member.compress_type = zipfile.ZIP_DEFLATED
        with zout.open(member, "w", force_zip64=True) as f:
            f.write(head)
            block = piece * max(1, (1 << 20) // len(piece))
            written = len(head)
            while written < size:
                chunk = block[: size - written]
                f.write(chunk)
                written += len(chunk)
    src.unlink()
    return out


def docx_app_xml_bomb(out: Path, size: int = GIB) -> Path:
    """A docx whose docProps/app.xml inflates to ``size`` (1 GiB: about 1 MB on disk)."""
    head = b'<?xml version="1.0"?><Properties><Pages>1</Pages>'
    return _copy_with(docx_bytes(1), out, "docProps/app.xml", size, b" ", head)


def docx_paragraph_bomb(out: Path, paragraphs: int = 12_000_000) -> Path:
    """A docx with millions of empty paragraphs (each a DOM node once parsed)."""
    para = b"<w:p/>"
    head = (
        b'<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
        b'wordprocessingml/2006/main"><w:body>'
    )
    return _copy_with(docx_bytes(1), out, "word/document.xml", paragraphs * len(para), para, head)


def xlsx_strings_bomb(out: Path, size: int = GIB // 2) -> Path:
    """An xlsx whose shared strings (parsed whole by openpyxl) inflate to ``size``."""
    head = b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    return _copy_with(xlsx_bytes(3), out, "xl/sharedStrings.xml", size, b"<si><t>a</t></si>", head)
