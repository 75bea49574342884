"""scripts/verdicts.py against a real server with its embedded worker and real pipelines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.pipelines.datasets import sales_rows, write_xlsx
from tests.pipelines.documents import make_manual_pdf
from tests.pipelines.test_dataset_shapes import countries, releases_csv

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verdicts.py"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "real files"
    d.mkdir()
    releases_csv(d / "releases.csv", "# Data source: the project's release feed\n")
    (d / "iso_3166.json").write_text(json.dumps({"3166-1": countries()}))
    (d / "settings.json").write_text(json.dumps({"name": "x", "size": 3}))
    write_xlsx(d / "sales.xlsx", sales_rows(50))
    make_manual_pdf(d / "manual.pdf", 4)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("a.txt", "hello")
    (d / "bundle.zip").write_bytes(buf.getvalue())
    return d


def test_one_verdict_line_per_file(server, user_factory, folder):
    user = user_factory("analyst")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STAGECOACH_")}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), str(folder), "--url", server, "--user", user.username],
        env={**env, "STAGECOACH_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=240,
    )
    lines = {ln.split()[1].rstrip(":"): ln for ln in done.stdout.splitlines()}
    assert sorted(lines) == sorted(p.name for p in folder.iterdir()), done.stdout + done.stderr
    assert lines["bundle.zip"].startswith("NO    bundle.zip: refused at upload (415)")
    assert done.returncode == 1  # a refused file is a bad verdict
    csv = lines["releases.csv"]
    assert csv.startswith("OK    releases.csv: dataset, completed in ")
    assert "60 rows × 7 columns" in csv and "rows/s" in csv and "Skipped 1 comment line" in csv
    assert "30 rows × 2 columns" in lines["iso_3166.json"]
    assert lines["settings.json"].startswith("WARN") and "only one row" in lines["settings.json"]
    assert "50 rows × 8 columns" in lines["sales.xlsx"]
    pdf = lines["manual.pdf"]
    assert pdf.startswith("OK    manual.pdf: document, completed in ") and "Handbook" not in pdf
