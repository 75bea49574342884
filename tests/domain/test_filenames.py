"""Client file names become display text: cleaned, capped, never a path."""

from __future__ import annotations

import pytest

from stagecoach.domain.filenames import display_name, extension


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("report.pdf", "report.pdf"),
        ("  spaced name.txt  ", "spaced name.txt"),
        ("nul\x00and\x1bescape.txt", "nulandescape.txt"),
        (b"latin1 caf\xe9.txt", "latin1 caf\ufffd.txt"),
        ("\u202egpj.exe", "gpj.exe"),
        ("", "unnamed"),
        ("\x00\x01", "unnamed"),
        (None, "unnamed"),
        ("<b>bold</b>.md", "<b>bold</b>.md"),
    ],
)
def test_display_name(raw, shown):
    assert display_name(raw) == shown


def test_long_names_keep_their_extension():
    name = display_name("a" * 1000 + ".xlsx")
    assert len(name) == 255 and name.endswith(".xlsx")
    assert len(display_name("b" * 1000)) == 255


def test_extension():
    assert extension("Report.PDF") == "pdf"
    assert extension("archive.tar.gz") == "gz"
    assert extension(".bashrc") == ""
    assert extension("../../etc/passwd") == ""
    assert extension("dir.v2/file") == ""
