"""Fixtures for the sociale kaart API tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from sqlmodel import Session

from backend.kaart.routes import kaart_now
from tests.kaart.kaart_api import MONDAY_10, make_admin


@pytest.fixture
def set_now(app: FastAPI) -> Callable[[datetime], None]:
    """The moment the API uses for "nu open" (Monday 10:00 unless a test sets another)."""
    moment = {"now": MONDAY_10}
    app.dependency_overrides[kaart_now] = lambda: moment["now"]

    def set_(value: datetime) -> None:
        moment["now"] = value

    return set_


@pytest.fixture
def admin(client: TestClient, session: Session) -> TestClient:
    return make_admin(session, client)


SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sociale_kaart" / "hsds-3.0" / "schema"
SCHEMA_BASE = "https://schemas.openreferral.local/hsds/3.0/"


@pytest.fixture(scope="session")
def service_validator() -> Draft202012Validator:
    """The vendored HSDS 3.0 service schema, with its references resolved locally."""
    resources = []
    for path in SCHEMA_DIR.glob("*.json"):
        if path.name != "openapi.json":
            contents = json.loads(path.read_text(encoding="utf-8"))
            resources.append(
                (SCHEMA_BASE + path.name, Resource.from_contents(contents, default_specification=DRAFT202012))
            )
    registry: Registry[Any] = Registry().with_resources(resources)
    return Draft202012Validator(
        {"$ref": SCHEMA_BASE + "service.json"}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
