"""Fixtures of the content tests: the real content and its public catalogue (as GET /api/content serves it)."""

from __future__ import annotations

import pytest

from backend.checklists.content import Content, load_content


@pytest.fixture(scope="module")
def content() -> Content:
    return load_content()


@pytest.fixture(scope="module")
def catalogue(content: Content) -> dict:
    return content.public_dict()
