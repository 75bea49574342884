"""Calibration measures a pipeline's stages on a sample, in a real stage host, and seeds the
learned rates; the first estimate of a job is then measured, not guessed."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from stagecoach.domain.progress import StageRun
from stagecoach.domain.rates import RateKey, StageRate
from stagecoach.pipelines.base import Pipeline
from stagecoach.pipelines.checksum import CHECKSUM
from stagecoach.pipelines.document import DOCUMENT
from stagecoach.pipelines.local import SilentReporter, artifact_for_file, run_pipeline
from stagecoach.pipelines.samples import Sample
from stagecoach.services.calibration import Calibration, fastest
from stagecoach.services.context import ServiceContext
from stagecoach.store import rates as rates_store
from tests.worker.conftest import wait_for
from tests.worker.pipelines import PIPELINES

SAMPLE_BYTES = 30_000  # ~0.3 s of the "slow" pipeline's reading (10 ms per KiB)
JOB_BYTES = 300_000  # ten times the sample


def slow_sample(pipeline: Pipeline, directory: Path) -> Sample | None:
    if pipeline.name != "slow":
        return None
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "sample.bin"
    path.write_bytes(b"s" * SAMPLE_BYTES)
    return Sample(path, "other", {})


def stored(services) -> dict[RateKey, StageRate]:
    with services.ctx.db.read() as conn:
        rows = rates_store.all_rates(conn)
    return {
        RateKey(r["pipeline"], r["stage"], r["engine"]): StageRate.from_dict(r["state"])
        for r in rows
    }


def ended(services, owner, job_id):
    doc = services.tracking.status(owner, job_id)
    return doc if doc["status"] in ("completed", "failed", "cancelled") else None


def test_calibration_seeds_rates_and_the_first_estimate_is_within_2x(
    wservices, owner, make_job, make_file, start_worker, caplog
):
    pipelines = {"slow": PIPELINES["slow"], "trivial": PIPELINES["trivial"]}
    wservices.pipelines.update(pipelines)  # the service estimates jobs of these pipelines
    # Without calibration the first estimate is the bytes prior (50 MB/s): far too short.
    guessed = wservices.tracking.status(owner, make_job("slow", [make_file(b"g" * JOB_BYTES)]))
    calibration = Calibration(
        wservices.ctx, pipelines, estimates=wservices.estimates, samples=slow_sample
    )
    assert calibration.due() == ["slow", "trivial"]
    with caplog.at_level(logging.INFO, logger="stagecoach.calibration"):
        seeded = calibration.run()
    assert set(seeded) == {RateKey("slow", "Reading"), RateKey("slow", "Writing")}
    reading = stored(wservices)[RateKey("slow", "Reading")]
    assert reading.n == 0 and reading.calibration  # a prior, measured here
    assert 3e-6 < reading.spu < 1e-4  # ~1e-5 s per byte, not the prior's 2e-8
    assert "calibration: slow/Reading" in caplog.text
    assert calibration.due() == ["trivial"]  # no sample for it: it keeps its priors

    job_id = make_job("slow", [make_file(b"c" * JOB_BYTES)])
    first = wservices.tracking.status(owner, job_id)
    assert first["eta_confidence"] == "rough"
    assert guessed["eta_confidence"] == "estimating"
    start_worker(pipelines=pipelines)  # two slots: both jobs start at once
    done = wait_for(lambda: ended(wservices, owner, job_id), timeout=60)
    assert done["status"] == "completed"
    real = done["processing_duration"]
    assert real and real > 1.0
    assert 0.5 * real <= first["eta_seconds"] <= 2.0 * real
    # The priors alone (50 MB/s for bytes, 1 s a unit for the rest) were off by more.
    assert not 0.5 * real <= guessed["eta_seconds"] <= 2.0 * real
    # The first real run replaces the calibrated prior.
    assert stored(wservices)[RateKey("slow", "Reading")].n >= 1


def test_builtin_pipelines_calibrate_on_their_samples_once(wservices):
    pipelines = {"document": DOCUMENT, "checksum": CHECKSUM}
    calibration = Calibration(wservices.ctx, pipelines)
    assert calibration.due() == ["document", "checksum"]
    seeded = calibration.run()
    assert {k.stage for k in seeded} == {"Extracting", "Summarizing", "Verifying"}
    assert all(r.n == 0 and r.calibration for r in seeded.values())
    # Sentences are counted only once summarising starts: the sample says what to expect.
    assert seeded[RateKey("document", "Summarizing")].typical_units(10) is not None
    assert calibration.due() == []  # once is enough
    assert calibration.run() == {}


def test_a_new_engine_or_model_calibrates_again(wservices, make_settings):
    pipelines = {"checksum": CHECKSUM}
    Calibration(wservices.ctx, pipelines).run()
    assert Calibration(wservices.ctx, pipelines).due() == []
    # Same engine name, another model: the calibrated rates were measured with the old one.
    other = ServiceContext.from_settings(make_settings(whisper_model_dir="/srv/models/another"))
    try:
        assert Calibration(other, pipelines).due() == ["checksum"]
    finally:
        other.db.dispose()


def test_real_history_is_never_overwritten(wservices):
    from stagecoach.domain.progress import StageRun

    pipelines = {"checksum": CHECKSUM}
    estimates = wservices.estimates
    with wservices.ctx.db.write() as conn:
        estimates.learn(conn, "checksum", "", StageRun("Verifying", "bytes", 1e6, 0.5))
    calibration = Calibration(wservices.ctx, pipelines, estimates=estimates)
    assert calibration.due() == []
    # Even if asked: a stage with real runs keeps them.
    seeded = calibration._seed("checksum", "", [StageRun("Verifying", "bytes", 1e6, 0.001)])
    assert seeded == {}
    assert stored(wservices)[RateKey("checksum", "Verifying")].n == 1


@pytest.mark.parametrize("on", [True, False])
def test_serve_calibrates_in_the_background_when_the_setting_is_on(make_settings, on):
    from fastapi.testclient import TestClient

    from stagecoach.app import create_app
    from stagecoach.services.registry import Services

    settings = make_settings(calibrate=on, lease_seconds=2)
    services = Services(ServiceContext.from_settings(settings))
    app = create_app(
        settings, services=services, embedded_worker=True, pipelines={"checksum": CHECKSUM}
    )
    started = time.monotonic()
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        assert time.monotonic() - started < 10  # startup did not wait for it
        if on:
            wait_for(lambda: RateKey("checksum", "Verifying") in stored(services), timeout=30)
        else:
            time.sleep(0.5)
            assert stored(services) == {}


def test_samples_run_through_their_pipelines(tmp_path):
    """The generated samples are files the built-in pipelines process without error."""
    from stagecoach.pipelines.registry import builtin_pipelines
    from stagecoach.pipelines.samples import sample_for

    for name, pipeline in builtin_pipelines().items():
        if name == "audio":
            continue  # transcription is covered by the pipelines' own tests; seconds here
        sample = sample_for(name, tmp_path / name)
        assert sample is not None
        art = artifact_for_file(
            sample.path,
            tmp_path / name / "w",
            tmp_path / name / "r",
            file_type=sample.file_type,
            media=sample.media,
        )
        timings = run_pipeline(pipeline, art, lambda st, total: SilentReporter(total))
        assert set(timings) == set(pipeline.stage_names)


def test_each_stage_keeps_its_fastest_measured_run():
    slow = [StageRun("Decoding", "audio_seconds", 6, 0.02), StageRun("Transcribing", "a", 6, 1.9)]
    fast = [StageRun("Decoding", "audio_seconds", 6, 0.01), StageRun("Transcribing", "a", 6, 0.8)]
    mixed = [StageRun("Decoding", "audio_seconds", 6, 0.03), StageRun("Transcribing", "a", 6, 0.7)]
    assert fastest([slow, fast]) == fast
    # a run disturbed in one stage only: each stage its own best, in the stages' order
    assert fastest([fast, mixed]) == [fast[0], mixed[1]]
