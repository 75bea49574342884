"""GET /api/v1/files/{id} and /content: metadata, download with Range, who may see them."""

from __future__ import annotations

import hashlib

from tests.samples import pdf_bytes, wav_bytes, xlsx_bytes
from tests.uploads_helpers import upload

PROBLEM = "application/problem+json"


def _uploaded(client, h, name="talk.wav", data=None):  # type: ignore[no-untyped-def]
    data = data if data is not None else wav_bytes(1.5)
    doc = upload(client, h, [(name, data)]).json()
    return doc["artifacts"][0]["file_id"], data


def test_download_equals_upload(client, analyst):
    _, h = analyst
    file_id, data = _uploaded(client, h)
    r = client.get(f"/api/v1/files/{file_id}/content", headers=h)
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert r.headers["content-type"] == "audio/wav"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["content-disposition"].startswith('attachment; filename="talk.wav"')
    meta = client.get(f"/api/v1/files/{file_id}", headers=h).json()
    assert meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert (meta["original_name"], meta["size"], meta["status"]) == (
        "talk.wav",
        len(data),
        "stored",
    )
    assert meta["duration_seconds"] == 1.5 and meta["links"]["content"].endswith("/content")
    assert meta["upload_time"].endswith("Z")


def test_range_requests(client, analyst):
    _, h = analyst
    file_id, data = _uploaded(client, h, "doc.pdf", pdf_bytes(2))
    url = f"/api/v1/files/{file_id}/content"
    size = len(data)
    r = client.get(url, headers={**h, "Range": "bytes=0-9"})
    assert r.status_code == 206 and r.content == data[:10]
    assert r.headers["content-range"] == f"bytes 0-9/{size}"
    r = client.get(url, headers={**h, "Range": "bytes=-16"})
    assert r.status_code == 206 and r.content == data[-16:]
    r = client.get(url, headers={**h, "Range": f"bytes={size - 5}-"})
    assert r.status_code == 206 and r.content == data[-5:]
    r = client.get(url, headers={**h, "Range": f"bytes=100-{size * 2}"})
    assert r.status_code == 206 and r.content == data[100:]
    for bad in (f"bytes={size}-", f"bytes={size + 10}-{size + 20}", "bytes=abc"):
        r = client.get(url, headers={**h, "Range": bad})
        assert r.status_code == 416, bad
        assert r.headers["content-type"] == PROBLEM
        assert r.headers["content-range"] == f"bytes */{size}"
    r = client.get(url, headers={**h, "Range": "lines=1-2"})  # not bytes: the whole file
    assert r.status_code == 200 and r.content == data


def test_unicode_name_in_content_disposition(client, analyst):
    _, h = analyst
    file_id, _ = _uploaded(client, h, 'résumé "final".pdf', pdf_bytes(1))
    cd = client.get(f"/api/v1/files/{file_id}/content", headers=h).headers["content-disposition"]
    assert cd == (
        'attachment; filename="r_sum_ _final_.pdf"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
    )


def test_another_analyst_is_denied_and_their_manager_allowed(client, user_factory, login):
    boss = user_factory("manager")
    owner = user_factory("analyst", manager=boss.username)
    stranger = user_factory("analyst")
    file_id, data = _uploaded(client, login(owner.username))
    hs, hm = login(stranger.username), login(boss.username)
    for path in ("", "/content"):
        r = client.get(f"/api/v1/files/{file_id}{path}", headers=hs)
        missing = client.get(
            f"/api/v1/files/00000000-0000-0000-0000-000000000000{path}", headers=hs
        )
        assert r.status_code == missing.status_code == 404
        assert r.headers["content-type"] == PROBLEM
    assert client.get(f"/api/v1/files/{file_id}", headers=hm).status_code == 200
    r = client.get(f"/api/v1/files/{file_id}/content", headers=hm)
    assert r.status_code == 200 and r.content == data
    assert client.get(f"/api/v1/files/{file_id}").status_code == 401


def test_dataset_records_carry_rows_and_columns(client, analyst):
    """An .xlsx upload is stored without its extension and still probed (it used to be a 500);
    a CSV's comment lines count neither as its header nor as rows."""
    _, h = analyst
    csv = b"# Data source: a feed\nversion,name,released\n1.0,a,2020-01-02\n1.1,b,2020-03-04\n"
    docs = upload(client, h, [("book.xlsx", xlsx_bytes(12)), ("releases.csv", csv)])
    assert docs.status_code == 202, docs.text
    shapes = []
    for artifact in docs.json()["artifacts"]:
        meta = client.get(f"/api/v1/files/{artifact['file_id']}", headers=h).json()
        assert "." not in meta["stored_path"].rsplit("/", 1)[-1]
        shapes.append((meta["original_name"], meta["row_count"], meta["column_count"]))
    assert shapes == [("book.xlsx", 12, 2), ("releases.csv", 2, 3)]
