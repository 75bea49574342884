"""Reading one cell: numbers, dates, yes/no, missing, text."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from stagecoach.domain.cells import CellKind, cell_kind, parse_date, parse_number


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("2024-03-05", dt.date(2024, 3, 5)),
        ("2024-03-05T10:11:12Z", dt.date(2024, 3, 5)),
        ("2024-03-05 10:11:12.5+02:00", dt.date(2024, 3, 5)),
        ("2024/3/5", dt.date(2024, 3, 5)),
        ("05.03.2024", dt.date(2024, 3, 5)),
        ("03/25/2024", dt.date(2024, 3, 25)),  # the first number cannot be a month... a day
        ("5 Mar 2024", dt.date(2024, 3, 5)),
        ("Tue, 05 Mar 2024 10:00:00 GMT", dt.date(2024, 3, 5)),
        ("March 5, 2024", dt.date(2024, 3, 5)),
        ("2024-03", dt.date(2024, 3, 1)),
    ],
)
def test_dates_in_the_forms_exports_use(text, day):
    assert parse_date(text) == day


@pytest.mark.parametrize(
    "text", ["1.2.3", "3.11.12", "2024-13-01", "Foo 5, 2024", "12345678", "v2024-01-01"]
)
def test_versions_and_impossible_dates_are_not_dates(text):
    assert parse_date(text) is None


def test_numbers_with_thousands_and_percent():
    assert parse_number("1,234.5") == 1234.5
    assert parse_number("12 %") == 12
    assert math.isnan(parse_number("1.2.3")) and math.isnan(parse_number("1,23"))


@pytest.mark.parametrize(
    ("text", "kind"),
    [("", "missing"), ("n/a", "missing"), ("3.5", "number"), ("yes", "boolean"),
     ("2024-01-02", "date"), ("1.2.3", "text"), ("hello world", "text")],
)  # fmt: skip
def test_cell_kinds(text, kind):
    assert cell_kind(text) is CellKind(kind)
