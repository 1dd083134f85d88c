"""Imports every domain's table models so SQLModel.metadata is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from backend.gemeenten import models as _gemeenten  # noqa: F401

metadata = SQLModel.metadata
