"""An upload whose server went away mid-way (crash, restart) is failed later, blobs removed."""

from __future__ import annotations

import anyio

from stagecoach.services.uploads import FileData, FileStart, _Upload
from tests.uploads_helpers import blobs, file_rows


def test_abandoned_uploads_are_failed(services, user_factory, clock):
    user = user_factory()

    async def start_and_stop() -> str:
        run = _Upload(services.uploads, user)
        await run.on(FileStart(field="files", filename="half.csv", content_type="text/csv"))
        await run.on(FileData(b"a,b\n" * (2**19)))  # flushed to storage, then the server "dies"
        assert run.job_id is not None
        return run.job_id

    job_id = anyio.run(start_and_stop)
    assert len(blobs(services)) == 1
    assert services.uploads.fail_abandoned() == 0  # still young: it may be receiving
    clock.advance(25 * 3600)
    assert services.uploads.fail_abandoned() == 1
    doc = services.tracking.status(user, job_id)
    assert doc["status"] == "failed" and doc["error"]["message"] == "Upload was interrupted"
    assert doc["artifacts"][0]["status"] == "failed"
    assert blobs(services) == []
    assert [f["status"] for f in file_rows(services)] == ["failed"]
    assert services.uploads.fail_abandoned() == 0
