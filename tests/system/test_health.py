import re

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from backend import migrate
from backend.app import create_app
from backend.config import Settings


def test_healthz_says_the_process_is_up(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database(client: TestClient) -> None:
    r = client.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == migrate.head_revision()


def test_readyz_fails_with_a_reason_when_migrations_are_behind(client: TestClient, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    try:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert "startklaar migrate" in r.json()["reason"]
    finally:  # PostgreSQL keeps alembic_version between tests (reference data): put it back
        with engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": migrate.head_revision()})


def test_unknown_api_route_is_json_404(client: TestClient) -> None:
    for method in ("get", "post", "delete"):
        r = getattr(client, method)("/api/bestaat-niet")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/json")
        assert r.json()["detail"]


def test_app_routes_serve_the_spa_and_missing_assets_are_404(client: TestClient) -> None:
    for path in ("/", "/stappen", "/hulp", "/ik", "/stappen/zorgverzekering-kiezen"):
        r = client.get(path)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        assert '<html lang="nl"' in r.text
    assert client.get("/js/bestaat-niet.js").status_code == 404
    assert (
        client.get("/../pyproject.toml").status_code in (400, 404)
        or "pyproject" not in client.get("/../pyproject.toml").text
    )


def test_openapi_and_docs_are_served_from_our_own_files(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/gemeenten" in spec.json()["paths"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower() and "http" not in docs.text.replace("http-equiv", "")
    assert "<script>" not in docs.text  # no inline script: the page keeps a strict script-src
    csp = docs.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    for src in re.findall(r'(?:src|href)="(/docs-assets/[^"]+)"', docs.text):
        asset = client.get(src)
        assert asset.status_code == 200 and len(asset.content) > 20, src
    assert "SwaggerUIBundle" in client.get("/docs-assets/init.js").text
    assert client.get("/docs-assets/..%2F..%2Fpyproject.toml").status_code == 404
    assert client.get("/docs-assets/index.html").status_code == 404  # only the files the page needs


def test_production_has_no_docs_unless_enabled(settings: Settings) -> None:
    settings.env = "production"
    settings.base_url = "https://startklaar.example.nl"
    with TestClient(create_app(settings), base_url="http://localhost") as c:
        assert "swagger" not in c.get("/docs").text.lower()
        assert c.get("/openapi.json").status_code == 404
        assert c.get("/docs-assets/swagger-ui-bundle.js").status_code == 404
    settings.api_docs = True
    with TestClient(create_app(settings), base_url="http://localhost") as c:
        assert "swagger-ui-bundle.js" in c.get("/docs").text
        assert c.get("/openapi.json").status_code == 200


def test_security_headers_on_every_response(client: TestClient) -> None:
    for path in ("/", "/healthz", "/api/gemeenten", "/api/bestaat-niet"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert "unsafe-inline" not in r.headers["content-security-policy"]
