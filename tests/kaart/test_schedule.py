"""Opening hours: parsing Dutch text, formatting, and is_open/closes_at/next_open at the edges."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.kaart.schedule import (
    DateException,
    Schedule,
    ScheduleError,
    Slot,
    closes_at,
    dutch_holidays,
    format_exceptions,
    format_week,
    is_open,
    next_open,
    open_intervals,
    parse_exceptions,
    parse_schedule,
    parse_week,
    slots_on,
)

TZ = ZoneInfo("Europe/Amsterdam")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=TZ)  # type: ignore[arg-type,misc]


def week_text(text: str) -> str:
    week, appointment = parse_week(text)
    return format_week(Schedule(week=week, by_appointment=appointment))


# ------------------------------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("ma-vr 09:00-17:00; za 10:00-12:00", "ma-vr 09:00-17:00; za 10:00-12:00"),
        ("ma 09:00-12:00, 13:00-17:00", "ma 09:00-12:00, 13:00-17:00"),
        ("vr 22:00-02:00", "vr 22:00-02:00"),
        ("zo gesloten", ""),
        ("ma-vr 9-17; zo gesloten", "ma-vr 09:00-17:00"),
        ("24/7", "24/7"),
        ("dag en nacht bereikbaar", "24/7"),
        ("dagelijks 00:00-24:00", "24/7"),
        ("maandag t/m vrijdag van 9 tot 17 uur", "ma-vr 09:00-17:00"),
        ("Maandag tot en met vrijdag: 9.00 - 17.00 uur", "ma-vr 09:00-17:00"),
        ("ma, wo 9.00-12.00\nza 10-12", "ma 09:00-12:00; wo 09:00-12:00; za 10:00-12:00"),
        ("ma-vr 9-17, za 10:00-12:00 en zo 12-14", "ma-vr 09:00-17:00; za 10:00-12:00; zo 12:00-14:00"),
        ("werkdagen 0830-1700; op afspraak", "ma-vr 08:30-17:00; op afspraak"),
        ("alleen op afspraak", "op afspraak"),
        ("weekend 10:00-16:00", "za-zo 10:00-16:00"),
        ("elke dag 8-22", "ma-zo 08:00-22:00"),
        ("ma-vr 09:00-17:00; wo 09:00-12:00", "ma-di 09:00-17:00; wo 09:00-12:00; do-vr 09:00-17:00"),
        ("vr-ma 20:00-23:00", "ma 20:00-23:00; vr-zo 20:00-23:00"),
        ("ma. 9:00-17:00", "ma 09:00-17:00"),
        ("do 22:00-00:00", "do 22:00-24:00"),
        ("za–zo 10:00–14:00", "za-zo 10:00-14:00"),
        ("", ""),
    ],
)
def test_parse_week_variants(text: str, canonical: str) -> None:
    assert week_text(text) == canonical


def test_past_midnight_is_stored_on_the_opening_day() -> None:
    week, _ = parse_week("vr 22:00-02:00")
    assert week[4] == (Slot(22 * 60, 26 * 60),)
    assert week[5] == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("09:00-17:00", "zet de dagen voor de tijden"),
        ("ma 25:00-26:00", "'25:00' is geen tijd"),
        ("ma 9:61-10:00", "is geen tijd"),
        ("ma 9-12, 11-13", "overlappen"),
        ("ma 9-9", "dezelfde tijd"),
        ("xx 9-17", "ik verwacht een dag"),
        ("ma-vr 9-17 lunch", "ik zie 'lunch'"),
        ("ma-vr 09:00-17:00 (lunch gesloten)", "ik begrijp '(lunch' niet"),
        ("ma 9", "streepje"),
        ("ma 9-", "eindtijd"),
        ("ma", "ik verwacht een tijd"),
        ("ma 24:00-02:00", "24:00 beginnen"),
    ],
)
def test_parse_week_errors_are_dutch_and_specific(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_week(text)
    assert fragment in str(info.value)
    assert text.strip() in str(info.value)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("2026-12-25 gesloten; 2026-12-31 09:00-13:00", "2026-12-25 gesloten; 2026-12-31 09:00-13:00"),
        ("24-12-2026 t/m 26-12-2026 gesloten (kerst)", "2026-12-24 t/m 2026-12-26 gesloten"),
        ("feestdagen gesloten, 25 december 2026 10-12", "feestdagen gesloten; 2026-12-25 10:00-12:00"),
        ("Gesloten op feestdagen", "feestdagen gesloten"),
        ("2026-07-20 - 2026-08-14: gesloten", "2026-07-20 t/m 2026-08-14 gesloten"),
        ("31/12/2026 9.00-12.00, 13.00-15.00", "2026-12-31 09:00-12:00, 13:00-15:00"),
        ("2026-01-02 dicht\n2026-01-01 gesloten", "2026-01-01 gesloten; 2026-01-02 gesloten"),
    ],
)
def test_parse_exceptions(text: str, canonical: str) -> None:
    exc, holidays = parse_exceptions(text)
    assert format_exceptions(Schedule(exceptions=exc, closed_on_holidays=holidays)) == canonical


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("2026-13-01 gesloten", "'2026-13-01' is geen datum"),
        ("31-02-2026 gesloten", "is geen datum"),
        ("2026-12-25", "zet achter 2026-12-25 'gesloten'"),
        ("kerst gesloten", "ik begrijp 'kerst gesloten' niet"),
        ("2026-12-26 t/m 2026-12-24 gesloten", "ligt voor"),
        ("2026-12-25 gesloten; 2026-12-25 10-12", "twee keer"),
        ("2026-01-01 t/m 2027-06-01 gesloten", "langer dan een jaar"),
        ("2026-12-31 9-13 uur ongeveer", "ongeveer"),
    ],
)
def test_parse_exceptions_errors(text: str, fragment: str) -> None:
    with pytest.raises(ScheduleError) as info:
        parse_exceptions(text)
    assert fragment in str(info.value)


# ------------------------------------------------------------------------------------------ holidays


def test_dutch_holidays() -> None:
    h2026 = dutch_holidays(2026)
    assert h2026[date(2026, 4, 5)] == "Eerste Paasdag"
    assert date(2026, 4, 6) in h2026
    assert date(2026, 4, 27) in h2026  # Koningsdag on a Monday
    assert date(2026, 5, 14) in h2026  # Hemelvaart
    assert {date(2026, 5, 24), date(2026, 5, 25)} <= set(h2026)  # Pinksteren
    assert date(2026, 5, 5) not in h2026  # Bevrijdingsdag only in lustrum years
    assert date(2026, 4, 3) not in h2026  # Goede Vrijdag not included
    h2025 = dutch_holidays(2025)
    assert date(2025, 4, 26) in h2025  # 27 April 2025 was a Sunday
    assert date(2025, 5, 5) in h2025
    assert date(2025, 4, 20) in h2025  # Easter 2025


# ------------------------------------------------------------------------------------------ is_open


OFFICE = parse_schedule("ma-vr 09:00-12:00, 13:00-17:00", "feestdagen gesloten; 2026-12-31 09:00-13:00")


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (local(2026, 6, 3, 9, 0), True),  # Wednesday opening minute
        (local(2026, 6, 3, 8, 59), False),
        (local(2026, 6, 3, 12, 30), False),  # lunch
        (local(2026, 6, 3, 16, 59, 59), True),
        (local(2026, 6, 3, 17, 0), False),  # closing minute is closed
        (local(2026, 6, 6, 10, 0), False),  # Saturday
        (local(2026, 4, 27, 10, 0), False),  # Koningsdag
        (local(2026, 12, 31, 12, 30), True),  # exception: no lunch break, open until 13:00
        (local(2026, 12, 31, 13, 0), False),
    ],
)
def test_is_open_office(at: datetime, expected: bool) -> None:
    assert is_open(OFFICE, at) is expected


def test_is_open_accepts_other_time_zones_and_naive_local_time() -> None:
    assert is_open(OFFICE, datetime(2026, 6, 3, 7, 30, tzinfo=UTC))  # 09:30 summer time
    assert not is_open(OFFICE, datetime(2026, 1, 7, 7, 30, tzinfo=UTC))  # 08:30 winter time
    assert is_open(OFFICE, datetime(2026, 6, 3, 9, 30))
    assert not is_open(None, local(2026, 6, 3, 10, 0))


def test_past_midnight() -> None:
    s = parse_schedule("vr 22:00-02:00")
    assert is_open(s, local(2026, 6, 5, 23, 0))
    assert is_open(s, local(2026, 6, 6, 1, 59))
    assert not is_open(s, local(2026, 6, 6, 2, 0))
    assert not is_open(s, local(2026, 6, 5, 21, 59))
    assert not is_open(s, local(2026, 6, 7, 1, 0))  # Sunday night: no Saturday slot
    assert closes_at(s, local(2026, 6, 5, 23, 0)) == local(2026, 6, 6, 2, 0)
    assert next_open(s, local(2026, 6, 6, 3, 0)) == local(2026, 6, 12, 22, 0)


def test_slot_running_into_a_closed_exception_day_still_runs() -> None:
    s = parse_schedule("vr 22:00-02:00; za 10:00-12:00", "2026-12-26 gesloten")
    assert slots_on(s, date(2026, 12, 26)) == ()
    assert is_open(s, local(2026, 12, 26, 1, 0))  # Friday's night slot
    assert not is_open(s, local(2026, 12, 26, 11, 0))  # Saturday itself closed
    assert closes_at(s, local(2026, 12, 26, 1, 0)) == local(2026, 12, 26, 2, 0)


def test_closed_exception_day_and_range() -> None:
    s = parse_schedule("ma-vr 09:00-17:00", "2026-07-20 t/m 2026-08-07 gesloten; 2026-07-29 10:00-12:00")
    assert not is_open(s, local(2026, 7, 21, 10, 0))
    assert is_open(s, local(2026, 7, 29, 11, 0))  # the shorter exception wins
    assert next_open(s, local(2026, 7, 20, 8, 0)) == local(2026, 7, 29, 10, 0)
    assert next_open(s, local(2026, 7, 29, 12, 0)) == local(2026, 8, 10, 9, 0)


def test_explicit_date_beats_holiday() -> None:
    s = parse_schedule("ma-vr 09:00-17:00", "feestdagen gesloten; 2026-04-06 10:00-14:00")
    assert is_open(s, local(2026, 4, 6, 11, 0))  # Tweede Paasdag, explicitly open
    assert not is_open(s, local(2026, 4, 27, 11, 0))  # Koningsdag


def test_always_open_with_closed_day() -> None:
    s = parse_schedule("24/7", "2026-12-25 gesloten")
    assert is_open(s, local(2026, 12, 24, 23, 59))
    assert closes_at(s, local(2026, 12, 24, 23, 0)) == local(2026, 12, 25, 0, 0)
    assert not is_open(s, local(2026, 12, 25, 12, 0))
    assert next_open(s, local(2026, 12, 25, 12, 0)) == local(2026, 12, 26, 0, 0)
    always = Schedule.always_open()
    assert is_open(always, local(2026, 3, 29, 2, 30))
    assert closes_at(always, local(2026, 6, 1, 12, 0)) is None  # open for the next 14 days
    at = local(2026, 6, 1, 12, 0)
    assert next_open(always, at) == at


def test_next_open_over_the_weekend_and_none() -> None:
    assert next_open(OFFICE, local(2026, 6, 5, 17, 0)) == local(2026, 6, 8, 9, 0)
    assert next_open(OFFICE, local(2026, 6, 3, 12, 15)) == local(2026, 6, 3, 13, 0)
    assert next_open(parse_schedule("op afspraak"), local(2026, 6, 3, 12, 0)) is None
    assert closes_at(OFFICE, local(2026, 6, 6, 12, 0)) is None


def test_adjacent_slots_merge_for_closes_at() -> None:
    s = parse_schedule("ma 09:00-12:00, 12:00-17:00, 22:00-24:00; di 00:00-06:00")
    assert closes_at(s, local(2026, 6, 1, 10, 0)) == local(2026, 6, 1, 17, 0)
    assert closes_at(s, local(2026, 6, 1, 23, 0)) == local(2026, 6, 2, 6, 0)


# ---------------------------------------------------------------------------------------------- DST
# 2026: summer time starts Sunday 29 March 02:00 -> 03:00, ends Sunday 25 October 03:00 -> 02:00.


def test_spring_forward_night_slot_is_one_hour_shorter() -> None:
    s = parse_schedule("za 22:00-04:00")
    start = local(2026, 3, 28, 22, 0)
    end = closes_at(s, local(2026, 3, 28, 23, 0))
    assert end == local(2026, 3, 29, 4, 0)
    assert end is not None and end.utcoffset() == timedelta(hours=2)
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=5)
    assert is_open(s, datetime(2026, 3, 29, 1, 30, tzinfo=UTC))  # 03:30 summer time
    assert not is_open(s, datetime(2026, 3, 29, 2, 0, tzinfo=UTC))  # 04:00 summer time


def test_opening_time_inside_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    s = parse_schedule("zo 02:30-05:00")
    before = datetime(2026, 3, 29, 0, 45, tzinfo=UTC)  # 01:45 winter time
    assert not is_open(s, before)
    opening = next_open(s, before)
    assert opening == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 summer time
    assert opening is not None and is_open(s, opening)
    assert not is_open(s, opening.astimezone(UTC) - timedelta(seconds=1))


def test_fall_back_night_slot_is_one_hour_longer() -> None:
    s = parse_schedule("za 22:00-04:00")
    start = local(2026, 10, 24, 22, 0)
    end = closes_at(s, local(2026, 10, 24, 23, 0))
    assert end == datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 04:00 winter time
    assert end is not None and end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=7)
    for hour_utc in (0, 1, 2):  # 02:00 summer, 02:00 winter and 03:00 winter
        assert is_open(s, datetime(2026, 10, 25, hour_utc, 30, tzinfo=UTC))


def test_day_slots_on_dst_days_follow_the_wall_clock() -> None:
    s = parse_schedule("ma-zo 09:00-17:00")
    for day in (date(2026, 3, 29), date(2026, 10, 25)):
        (start, end), *_ = open_intervals(s, day, 1)
        assert (start.hour, end.hour) == (9, 17)
        assert is_open(s, datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=12))


# ------------------------------------------------------------------------------------- properties


@st.composite
def slots_for_day(draw: st.DrawFn) -> tuple[Slot, ...]:
    points = sorted(draw(st.sets(st.integers(0, 95), max_size=6)))
    slots = []
    for a, b in zip(points[::2], points[1::2], strict=False):
        slots.append(Slot(a * 15, b * 15))
    if draw(st.booleans()):
        last_start = max(points[-1] * 15 if points else 0, (slots[-1].closes if slots else 0))
        if last_start < 1440 - 15:
            opens = draw(st.integers(last_start // 15, 94)) * 15
            closes = opens + draw(st.integers(1, 95)) * 15
            if closes != opens + 1440:
                slots.append(Slot(opens, closes))
    return tuple(slots)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    week = tuple(draw(slots_for_day()) for _ in range(7))
    starts = draw(st.sets(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=4))
    exceptions = []
    for start in sorted(starts):
        end = start + timedelta(days=draw(st.integers(0, 20)))
        exceptions.append(DateException(start, end, draw(slots_for_day())))
    exceptions.sort(key=lambda e: (e.start, e.end))
    return Schedule(
        week=week,
        exceptions=tuple(exceptions),
        closed_on_holidays=draw(st.booleans()),
        by_appointment=draw(st.booleans()),
    )


@given(schedules())
@settings(max_examples=200, deadline=None)
def test_format_then_parse_gives_the_same_schedule(s: Schedule) -> None:
    assert parse_schedule(format_week(s), format_exceptions(s)) == s


instants = st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31), timezones=st.just(UTC)).map(
    lambda d: d.replace(second=0, microsecond=0)
)
dst_instants = st.sampled_from([datetime(2026, 3, 28, 12, tzinfo=UTC), datetime(2026, 10, 24, 12, tzinfo=UTC)]).flatmap(
    lambda base: st.integers(0, 48 * 4).map(lambda q: base + timedelta(minutes=15 * q))
)


@given(schedules(), st.one_of(instants, dst_instants))
@settings(max_examples=300, deadline=None)
def test_is_open_closes_at_and_next_open_agree(s: Schedule, at: datetime) -> None:
    if is_open(s, at):
        end = closes_at(s, at)
        if end is not None:
            end = end.astimezone(UTC)  # arithmetic on Amsterdam datetimes is wall-clock arithmetic
            assert end > at
            assert is_open(s, end - timedelta(seconds=1))
            assert not is_open(s, end)
        assert next_open(s, at) == at
    else:
        assert closes_at(s, at) is None
        nxt = next_open(s, at)
        if nxt is not None:
            nxt = nxt.astimezone(UTC)
            assert nxt > at
            assert is_open(s, nxt)
            assert not is_open(s, nxt - timedelta(seconds=1))
