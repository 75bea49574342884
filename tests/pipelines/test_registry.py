"""Which pipelines exist, and plugins registered through the ``stagecoach.pipelines`` group."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

from stagecoach.domain.errors import ErrorCategory, StageError
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.registry import (
    builtin_pipelines,
    load_pipelines,
    pipeline_for_file_type,
)
from stagecoach.pipelines.speech import make_engine


def test_builtin_pipelines_and_their_stages():
    pipelines = builtin_pipelines()
    assert {name: p.stage_names for name, p in pipelines.items()} == {
        "audio": ["Decoding", "Transcribing", "Analyzing"],
        "document": ["Extracting", "Summarizing"],
        "dataset": ["Parsing", "Profiling", "Charting", "Narrating"],
        "checksum": ["Verifying"],
    }
    assert pipelines["audio"].stage("Transcribing").unit == "audio_seconds"
    assert pipelines["document"].stage("Extracting").unit == "pages"
    assert pipelines["dataset"].stage("Profiling").unit == "rows"
    assert pipelines["checksum"].stage("Verifying").unit == "bytes"


@pytest.mark.parametrize(
    ("file_type", "pipeline"),
    [
        ("audio", "audio"),
        ("video", "audio"),
        ("document", "document"),
        ("dataset", "dataset"),
        ("other", "checksum"),
        ("something-new", "checksum"),
    ],
)
def test_pipeline_for_file_type(file_type, pipeline):
    assert pipeline_for_file_type(file_type) == pipeline


def test_audio_engine_is_named_for_estimates(tmp_path):
    engine = builtin_pipelines()["audio"].engine
    assert engine is not None
    assert engine({}) == "pocketsphinx"
    # auto without faster-whisper installed stays on pocketsphinx even with a model dir.
    if importlib.util.find_spec("faster_whisper") is None:
        assert engine({"engine": "auto", "whisper_model_dir": str(tmp_path)}) == "pocketsphinx"


@pytest.fixture
def plugin_on_path(tmp_path, monkeypatch):
    """An installed distribution with two entry points: one good pipeline, one broken."""
    (tmp_path / "stagecoach_wordcount.py").write_text(
        textwrap.dedent(
            """
            from stagecoach.pipelines.base import Pipeline, Stage

            def count(art, reporter):
                n = len(art.file_path.read_text().split())
                (art.results_dir / "count.txt").write_text(str(n))
                reporter.progress(1)

            PIPELINE = Pipeline(
                name="wordcount",
                file_types=("document",),
                stages=(Stage("Counting", "files", count, lambda art: 1.0),),
            )
            """
        )
    )
    dist = tmp_path / "stagecoach_wordcount-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: stagecoach-wordcount\n")
    (dist / "entry_points.txt").write_text(
        "[stagecoach.pipelines]\n"
        "wordcount = stagecoach_wordcount:PIPELINE\n"
        "broken = stagecoach_wordcount:MISSING\n"
        "audio = stagecoach_wordcount:PIPELINE\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("stagecoach_wordcount", None)


def test_plugins_are_loaded_from_entry_points(plugin_on_path, caplog):
    pipelines = load_pipelines()
    assert set(pipelines) == {"audio", "document", "dataset", "checksum", "wordcount"}
    assert isinstance(pipelines["wordcount"], Pipeline)
    assert pipelines["wordcount"].stage_names == ["Counting"]
    # The broken entry point is skipped with a log line, and cannot shadow a built-in.
    assert "broken" in caplog.text
    assert pipelines["audio"].stage_names[0] == "Decoding"


def test_the_plugin_example_in_the_docs_runs(tmp_path, monkeypatch, run_stages):
    """docs/pipelines.md shows a complete third-party pipeline: it must keep working."""
    docs = (Path(__file__).parents[2] / "docs" / "pipelines.md").read_text()
    code = docs.split("# stagecoach_wordfreq.py\n", 1)[1].split("```", 1)[0]
    (tmp_path / "stagecoach_wordfreq.py").write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        plugin = importlib.import_module("stagecoach_wordfreq").PIPELINE
    finally:
        sys.modules.pop("stagecoach_wordfreq", None)
    text = tmp_path / "words.txt"
    text.write_text("the cat and the hat\n" * 50)

    run = run_stages(plugin, text)

    for reporter in run.reporters.values():
        reporter.assert_complete()
    assert run.result("top_words.tsv").splitlines()[0] == "the\t100"


def test_whisper_without_its_package_or_model_is_a_dependency_error(tmp_path):
    # Without faster-whisper: "not installed"; with it but no model.bin: "model missing".
    with pytest.raises(StageError) as caught:
        make_engine({"engine": "whisper", "whisper_model_dir": str(tmp_path)})
    error = caught.value.error
    assert error.category == ErrorCategory.DEPENDENCY and error.retryable is False
    assert error.code in ("whisper_not_installed", "whisper_model_missing")
    assert "STAGECOACH_" in error.hint


def test_unknown_engine_is_refused():
    with pytest.raises(StageError) as caught:
        make_engine({"engine": "shouty"})
    assert caught.value.error.code == "unknown_engine"
