"""Dates as people in the Netherlands see them: 'today' is today in Europe/Amsterdam."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

NL = ZoneInfo("Europe/Amsterdam")


def now_utc() -> datetime:
    return datetime.now(UTC)


def today_nl() -> date:
    return datetime.now(NL).date()


def aware(moment: datetime) -> datetime:
    """A time read back without zone (SQLite keeps none) is UTC: that is how everything is stored."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def nl_date(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(NL).date()
