"""The CSV layout sniffer: delimiter, lines before the table, header or not."""

from __future__ import annotations

import pytest

from stagecoach.domain.csv_layout import sniff_layout

RELEASES = (
    "version,name,released\n1.0.0,first,2021-03-04\n1.1.0,second,2021-09-12\n"
    "2.0.0,third,2022-01-30\n"
)


def test_a_plain_csv_has_a_header_and_nothing_skipped():
    layout = sniff_layout(RELEASES, complete=True)
    assert (layout.delimiter, layout.skip_lines, layout.header, layout.columns) == (",", 0, True, 3)
    assert layout.notes() == []


def test_comment_lines_before_the_header_are_skipped_and_told():
    text = "# Data source: the release feed, 2024\n# licence: CC0\n" + RELEASES
    layout = sniff_layout(text, complete=True)
    assert (layout.skip_lines, layout.header, layout.columns, layout.comment) == (2, True, 3, "#")
    assert layout.notes() == [
        "Skipped 2 comment lines before the table (“# Data source: the release feed, 2024”)."
    ]


def test_a_title_and_a_blank_line_before_the_header_are_skipped():
    text = "Quarterly sales report\n\nregion;units;price\nNorth;3;2.5\nSouth;4;3.5\nEast;1;9\n"
    layout = sniff_layout(text, complete=True)
    assert (layout.delimiter, layout.skip_lines, layout.header, layout.columns) == (";", 2, True, 3)
    assert "Fields are separated by semicolons." in layout.notes()
    assert any("Quarterly sales report" in n for n in layout.notes())


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_the_delimiter_is_the_one_that_cuts_every_line_alike(delimiter):
    rows = [["a", "b", "c"], ["1", "x,y", "3"], ["4", "5", "6"]]
    text = "\n".join(delimiter.join(r) for r in rows)
    text = text.replace("x,y", '"x,y"' if delimiter == "," else "x,y")
    assert sniff_layout(text, complete=True).delimiter == delimiter


def test_a_first_row_of_numbers_is_data_not_a_header():
    layout = sniff_layout("1,2.5,2024-01-01\n2,3.5,2024-01-02\n3,4.5,2024-01-03\n", complete=True)
    assert (layout.header, layout.columns) == (False, 3)
    assert "columns are numbered" in " ".join(layout.notes())


def test_a_word_above_numbers_is_a_header_even_if_other_cells_are_numbers():
    layout = sniff_layout("id,2024\n1,5\n2,6\n", complete=True)
    assert layout.header


def test_a_sample_cut_mid_line_ignores_its_last_line():
    layout = sniff_layout("a,b,c\n1,2,3\n4,5", complete=False)
    assert layout.columns == 3 and layout.header
