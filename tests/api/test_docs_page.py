"""/docs is Swagger UI served by the app itself: every asset it loads is local."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def db_url(sqlite_templates):  # the page does not depend on the database engine
    return sqlite_templates.new()


def test_docs_page_loads_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url: ?["']([^"']+)["']""", page.text)
    urls = [a or b for a, b in urls]
    assert "/docs/assets/swagger-ui-bundle.js" in urls and "/openapi.json" in urls
    assert not [u for u in urls if "//" in u], urls  # nothing from another host (no CDN)
    for url in urls:
        r = client.get(url)
        assert r.status_code == 200, url
        assert len(r.content) > 100, url
    js = client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"]
    assert js.startswith(("text/javascript", "application/javascript"))
    assert client.get("/docs/oauth2-redirect").status_code == 200
    assert client.get("/redoc").status_code == 404  # it would load from a CDN


def test_docs_page_is_not_part_of_the_api_description(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith("/docs")]
