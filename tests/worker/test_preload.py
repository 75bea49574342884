"""A stage process starts with what its pipelines' stages import on first use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from stagecoach.pipelines.dataset import DATASET
from stagecoach.pipelines.document import DOCUMENT
from stagecoach.worker.worker import stage_modules

# In a process of its own: the forkserver is one per process and starts with the preload
# of whoever used it first, so in the test process it is already running.
PROBE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from stagecoach.pipelines.document import DOCUMENT
    from stagecoach.worker.child import StageHost, StageSpec
    from stagecoach.worker.worker import mp_context, stage_modules
    from tests.worker import memory_stages
    from tests.worker.stage_hosts import artifact, run_on

    if __name__ == "__main__":
        assert "pypdf" not in sys.modules  # this process never imported it
        host = StageHost(mp_context(stage_modules({"document": DOCUMENT})), 1024)
        spec = StageSpec("Probing", "items", memory_stages.modules_seen, memory_stages.one)
        try:
            art = artifact(Path(sys.argv[1]), names=["pypdf", "docx", "tabnanny"])
            host.submit([spec], art, 0.1)
            while host.results.recv()[0] not in ("done", "error", "exception"):
                pass
        finally:
            host.close()
    """
)


def test_the_forkserver_imports_what_the_stages_import_on_first_use():
    modules = stage_modules({"document": DOCUMENT, "dataset": DATASET})
    assert {"pypdf", "docx", "matplotlib.figure", "openpyxl"} <= set(modules)
    assert "stagecoach.pipelines.document" in modules  # the stage modules, as before


def test_a_stage_process_has_pypdf_before_its_first_file(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, str(probe), str(tmp_path)],
        check=True,
        cwd=root,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    seen = json.loads((tmp_path / "modules.json").read_text())
    # what the document stages import on first use is there; what nothing asked for is not
    assert seen == {"pypdf": True, "docx": True, "tabnanny": False}
