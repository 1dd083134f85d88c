"""Imports every domain's table models so SQLModel.metadata is complete (for Alembic and tests)."""

from sqlmodel import SQLModel

from backend.accounts import models as _accounts  # noqa: F401
from backend.checklists import models as _checklists  # noqa: F401
from backend.gemeenten import models as _gemeenten  # noqa: F401
from backend.kaart import models as _kaart  # noqa: F401
from backend.reminders import models as _reminders  # noqa: F401
from backend.sharing import models as _sharing  # noqa: F401

metadata = SQLModel.metadata
