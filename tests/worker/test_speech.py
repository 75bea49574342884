"""Speech through the real service: Whisper in the default install, through the API; a
recording whose worker is killed (or whose server restarts) resumes from its checkpoint."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from stagecoach.app import create_app
from stagecoach.store import jobs as jobs_store
from stagecoach.store import results as results_store
from stagecoach.worker.runner import checkpoint_key
from tests.pipelines.media import RATE, speech_wav, write_wav
from tests.pipelines.speech_fixtures import SENTENCES, word_error_rate
from tests.uploads_helpers import upload
from tests.worker.conftest import job_row, timeline_of, wait_for
from tests.worker.procs import SPEECH_PIPELINES, free_port, start_server, start_worker

pytestmark = pytest.mark.slow

WINDOW = 30.0  # seconds of audio: the most a kill may cost


@pytest.fixture
def sqlite_only(db_url):
    if not db_url.startswith("sqlite"):
        pytest.skip("speech runs on one database: the queue is tested on both elsewhere")


def login(client, owner):
    tok = client.post(
        "/api/v1/auth/token", data={"username": owner.username, "password": "pw-pw-pw-pw"}
    ).json()
    return {"Authorization": f"Bearer {tok['access_token']}"}


def test_whisper_transcribes_an_upload_through_the_api(
    wsettings, wservices, owner, tmp_path, sqlite_only
):
    wav = speech_wav(SENTENCES, tmp_path / "interview-03.wav")
    quiet = write_wav(np.zeros(RATE * 3, dtype="<i2"), tmp_path / "quiet.wav")
    app = create_app(wsettings, services=wservices, embedded_worker=True)  # installed pipelines
    with TestClient(app) as client:
        h = login(client, owner)
        jobs = {}
        for path in (wav, quiet):
            r = upload(client, h, [(path.name, path.read_bytes())])
            assert r.status_code == 202, r.text
            jobs[path.name] = r.json()["job_id"]

        def finished(job_id):
            doc = client.get(f"/api/v1/jobs/{job_id}/status", headers=h).json()
            return doc if doc["status"] in ("completed", "failed") else None

        spoken = wait_for(lambda: finished(jobs["interview-03.wav"]), timeout=240)
        silent = wait_for(lambda: finished(jobs["quiet.wav"]), timeout=120)
        listing = client.get(f"/api/v1/jobs/{spoken['job_id']}/results", headers=h).json()
        names = [r["name"] for r in listing["results"]]
        text = client.get(
            f"/api/v1/jobs/{spoken['job_id']}/results/interview-03.transcript.txt", headers=h
        ).text
        doc = client.get(
            f"/api/v1/jobs/{spoken['job_id']}/results/interview-03.transcript.json", headers=h
        ).json()
        quiet_text = client.get(
            f"/api/v1/jobs/{silent['job_id']}/results/quiet.transcript.txt", headers=h
        ).text

    assert spoken["status"] == "completed", spoken
    assert spoken["message"] == "Transcription complete!"
    assert sorted(names) == [
        "interview-03.analysis.json",
        "interview-03.transcript.json",
        "interview-03.transcript.srt",
        "interview-03.transcript.txt",
        "interview-03.transcript.vtt",
    ]
    assert doc["engine"] == "whisper" and doc["model"].startswith("tiny.en")
    assert word_error_rate(" ".join(SENTENCES), text) <= 0.08, text
    # Non-speech audio ends honestly, not "Transcription complete!" over nothing.
    assert silent["status"] == "completed"
    assert silent["message"] == "No speech found in quiet.wav."
    assert "No speech found" in quiet_text


def transcribing(services, job_id):
    """(attempt, seconds of audio transcribed) as the database has it now."""
    job = job_row(services, job_id)
    with services.ctx.db.read() as conn:
        (art,) = jobs_store.job_artifacts(conn, job_id)
    units = art.stage_units.get("Transcribing") or {}
    return job, art, float(units.get("done") or 0.0), units.get("total")


@pytest.mark.parametrize("how", ["worker", "serve"])
def test_killed_mid_recording_resumes_whole_from_its_checkpoint(
    how, wsettings, wservices, owner, make_file, make_job, tmp_path, sqlite_only
):
    reference = " ".join(SENTENCES * 3)
    wav = speech_wav(SENTENCES * 3, tmp_path / "session-9.wav")  # about 70 s: 3 windows
    job_id = make_job("audio", [make_file(wav.read_bytes(), "session-9.wav")])
    port = free_port()

    def start(name):
        log = tmp_path / f"{name}.log"
        if how == "worker":
            return start_worker(wsettings, log, pipelines=SPEECH_PIPELINES)
        return start_server(wsettings, log, port, pipelines=SPEECH_PIPELINES)

    a = start("a")
    b = None
    try:
        # Kill once the first window is checkpointed and the second is under way.
        def mid_recording():
            job, art, done, _total = transcribing(wservices, job_id)
            kept = wservices.storage.exists(checkpoint_key(art.artifact_id))
            return (job, art, done) if kept and done > 0 else None

        _job, art, _ = wait_for(mid_recording, timeout=240, every=0.05)
        before = transcribing(wservices, job_id)[2]
        a.kill()
        kept = json.loads(wservices.storage.read_bytes(checkpoint_key(art.artifact_id)))
        kept_seconds = kept["state"]["next_sample"] / RATE
        assert kept["stage"] == "Transcribing" and kept_seconds > 0

        b = start("b")
        # What the second attempt shows of Transcribing, from its first write on.
        seen = []
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            job, _art, done, _total = transcribing(wservices, job_id)
            if job.attempts >= 2 and job.status == "processing" and done:
                seen.append(done)
            if job.status in ("completed", "failed"):
                break
            time.sleep(0.05)
    finally:
        a.stop()
        if b:
            b.stop()

    job = job_row(wservices, job_id)
    assert job.status == "completed", (tmp_path / "b.log").read_text()[-3000:]
    assert job.attempts == 2  # the kill cost an attempt
    # The second attempt carried on from the checkpoint: at most a window behind the kill.
    assert seen and seen[0] >= kept_seconds - 0.01
    assert seen[0] >= before - WINDOW
    assert seen == sorted(seen)
    notes = [h.message or "" for h in timeline_of(wservices, owner, job_id)]
    resumed = [n for n in notes if "resumed at" in n]
    assert len(resumed) == 1, notes
    minutes, seconds = divmod(int(kept_seconds), 60)
    assert f"resumed at {minutes}:{seconds:02d} of 1:" in resumed[0]
    # The transcript is whole: nothing lost or repeated at the seams.
    with wservices.ctx.db.read() as conn:
        rows = {r["name"]: r for r in results_store.job_results(conn, job_id)}
    txt = wservices.storage.path(rows["session-9.transcript.txt"]["stored_path"]).read_text()
    assert word_error_rate(reference, txt) <= 0.08, txt
    assert not wservices.storage.exists(checkpoint_key(art.artifact_id))  # gone when done
