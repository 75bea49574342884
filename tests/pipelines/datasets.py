"""Data files made by the tests (and the benchmark): a sales table in every accepted format."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path
from typing import Any

COLUMNS = ["order_id", "date", "region", "quantity", "unit_price", "revenue", "discount", "note"]
REGIONS = ["North", "North", "North", "South", "East", "West"]  # North is half of all orders


def sales_rows(n: int, seed: int = 7) -> list[list[Any]]:
    """Rows of a sales table. revenue = quantity * unit_price; discount is 10 % missing."""
    rng = random.Random(seed)
    rows = []
    for i in range(1, n + 1):
        quantity = rng.randint(1, 20)
        price = round(rng.lognormvariate(3, 0.6), 2)
        rows.append(
            [
                i,
                f"2024-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice(REGIONS),
                quantity,
                price,
                round(quantity * price, 2),
                None if rng.random() < 0.1 else round(rng.random() * 0.3, 2),
                rng.choice(["rush order", "gift", "call before delivery", "leave at door"]),
            ]
        )
    return rows


def write_delimited(path: Path, rows: list[list[Any]], delimiter: str = ",") -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, delimiter=delimiter)
        writer.writerow(COLUMNS)
        writer.writerows([["" if c is None else c for c in row] for row in rows])
    return path


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    import xlsxwriter

    with xlsxwriter.Workbook(str(path)) as book:
        sheet = book.add_worksheet("sales")
        sheet.write_row(0, 0, COLUMNS)
        for r, row in enumerate(rows, 1):
            sheet.write_row(r, 0, ["" if c is None else c for c in row])
    return path


def write_json(path: Path, rows: list[list[Any]], lines: bool = False) -> Path:
    records = [dict(zip(COLUMNS, row, strict=True)) for row in rows]
    with open(path, "w", encoding="utf-8") as f:
        if lines:
            f.writelines(json.dumps(r) + "\n" for r in records)
        else:
            json.dump(records, f, indent=1)
    return path
