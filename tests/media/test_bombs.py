"""Issue 12, item 1: decompression bombs. Every zip-based reader checks what a container
declares before anything inflates; the API process stays small whatever is uploaded; stage
processes run under a memory ceiling and are not kept idle after a big job."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stagecoach.domain.errors import StageError
from stagecoach.media.detect import Rejected, detect
from stagecoach.media.probe import probe
from stagecoach.pipelines.dataset_read import XlsxReader
from stagecoach.pipelines.document_extract import docx_content
from stagecoach.worker.child import StageHost, resident_mb
from stagecoach.worker.worker import mp_context
from tests.media.bombs import docx_app_xml_bomb, docx_paragraph_bomb, xlsx_strings_bomb
from tests.samples import docx_bytes, xlsx_bytes
from tests.worker.stage_hosts import artifact, run_on


@pytest.fixture(scope="module")
def bombs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bombs")
    return {
        "app_xml": docx_app_xml_bomb(d / "app.docx"),  # 1 MB, 1 GiB inflated
        "paragraphs": docx_paragraph_bomb(d / "paragraphs.docx"),  # 12 million paragraphs
        "strings": xlsx_strings_bomb(d / "strings.xlsx", size=2**27),
    }


def _probe(path: Path) -> Any:
    head = path.read_bytes()[:8192]
    return probe(path, detect(head, path.name, complete=False))


@pytest.mark.parametrize("name", ["app_xml", "paragraphs", "strings"])
def test_the_probe_refuses_a_bomb_before_inflating_it(bombs, name):
    with pytest.raises(Rejected) as caught:
        _probe(bombs[name])
    assert caught.value.status == 422
    assert "too large or too complex" in str(caught.value)


def test_real_documents_still_pass(tmp_path):
    (tmp_path / "a.docx").write_bytes(docx_bytes(40))
    (tmp_path / "a.xlsx").write_bytes(xlsx_bytes(50))
    assert _probe(tmp_path / "a.docx").page_count >= 1
    assert _probe(tmp_path / "a.xlsx").row_count == 50


def test_the_stages_refuse_a_bomb_as_a_permanent_input_error(bombs, tmp_path):
    with pytest.raises(StageError) as docx_err:
        docx_content(bombs["paragraphs"])
    with pytest.raises(StageError) as xlsx_err:
        XlsxReader(bombs["strings"])
    for err in (docx_err.value.error, xlsx_err.value.error):
        assert err.code == "file_too_complex" and not err.retryable
        assert "too large or too complex" in err.message


@pytest.mark.slow
def test_the_api_process_stays_small_when_a_bomb_is_uploaded(bombs, tmp_path):
    from bench.common import server_process, token

    with server_process(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, cpu=None) as (base, proc):
        h = {"Authorization": f"Bearer {token(base)}"}
        started = time.monotonic()
        with bombs["app_xml"].open("rb") as f:
            r = httpx.post(
                f"{base}/api/v1/upload",
                files={"files": ("report.docx", f)},
                headers=h,
                timeout=60,
            )
        took = time.monotonic() - started
        assert r.status_code == 422, r.text
        assert "too large or too complex" in r.json()["detail"]
        peak = _peak_mb(proc.pid)
    assert peak < 600, f"the API process peaked at {peak:.0f} MiB (took {took:.1f} s)"


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


# --- stage processes -----------------------------------------------------------------


@pytest.mark.slow
def test_a_stage_process_cannot_pass_its_memory_ceiling(tmp_path):
    host = StageHost(mp_context(["tests.worker.memory_stages"]), memory_mb=700)
    try:
        assert run_on(host, artifact(tmp_path, mb=100))[0] == "done"
        result = run_on(host, artifact(tmp_path, mb=1024))
        assert result[:3] == ("exception", 0, "MemoryError")
    finally:
        host.close()


@pytest.mark.slow
def test_a_stage_host_that_grew_big_is_not_kept(tmp_path):
    host = StageHost(mp_context(["tests.worker.memory_stages"]), recycle_mb=200)
    try:
        assert run_on(host, artifact(tmp_path, mb=10))[0] == "done"
        assert host.reusable
        assert run_on(host, artifact(tmp_path, mb=300, keep=True))[0] == "done"
        assert resident_mb(host.proc.pid) > 300
        assert not host.reusable  # the worker closes it instead of keeping it idle
    finally:
        host.close()
