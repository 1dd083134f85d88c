"""The personal plan: property-based tests plus concrete examples.

The oracle helpers below recompute dates independently of plan.py (own month arithmetic, own birthday rule).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.checklists.content import SITUATIONS, Rule, Step, load_content
from backend.checklists.plan import (
    BUCKETS,
    LABELS,
    OVERDUE_RULE_PREFIX,
    STATES,
    Profile,
    ReminderMoment,
    age_on,
    compute_plan,
    reminder_moments,
    validate_profile,
)

CONTENT = load_content()
STEPS = CONTENT.steps
ORDER = {sid: i for i, sid in enumerate(STEPS)}
PROPERTY = settings(max_examples=200, deadline=None)

# --------------------------------------------------------------------------------------------- oracle


def o_birthday(birth: date, years: int) -> date:
    year = birth.year + years
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(year):
        return date(year, 3, 1)
    return date(year, birth.month, birth.day)


def o_add_months(d: date, months: int) -> date:
    month_index = d.month - 1 + months
    year = d.year + month_index // 12
    month = month_index % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def o_age(birth: date, on: date) -> int:
    age = 0
    while o_birthday(birth, age + 1) <= on:
        age += 1
    return age


def o_offsets(d: date, rule: Rule) -> date:
    for off in rule.offsets:
        if off.unit == "m":
            d = o_add_months(d, off.amount)
        else:
            d = d + timedelta(days=off.amount * (7 if off.unit == "w" else 1))
    return d


def needs_v(rule: Rule) -> bool:
    """Does the rule (transitively through after:) need a vertrekdatum?"""
    if "V" in rule.bases:
        return True
    return any(all(needs_v(r) for r in STEPS[ref].due) for ref in rule.refs)


def depends_on_v(step: Step) -> bool:
    """Can the due date of this step change with the vertrekdatum?"""
    return any("V" in r.bases or any(depends_on_v(STEPS[ref]) for ref in r.refs) for r in step.due)


def o_applicable(step: Step, profile: Profile, today: date, progress: dict[str, str] | None = None) -> bool:
    c = step.conditions
    progress = progress or {}
    without_v = profile.vertrekdatum is None
    on_own = profile.situation in c.also_without_vertrekdatum  # sees V steps without a vertrekdatum
    if c.requires_vertrekdatum and without_v and not on_own:
        return False
    if c.situations and profile.situation is not None and profile.situation not in c.situations:
        return False
    b18 = o_birthday(profile.birth_date, 18)
    if c.leaves_after_18 and (without_v or profile.vertrekdatum <= b18):  # type: ignore[operator]
        return False
    if profile.situation != "zelfstandig" and any(progress.get(d) != "done" for d in c.requires_done):
        return False
    if c.max_age is not None and o_age(profile.birth_date, today) > c.max_age:
        return False
    if without_v and all(needs_v(r) for r in step.due) and not (c.requires_vertrekdatum and on_own):
        return False
    if without_v and on_own and c.requires_vertrekdatum:
        return True  # no rule applies: due from the 18th birthday
    for rule in step.due:
        for ref in rule.refs:
            if not o_applicable(STEPS[ref], profile, today, progress) and len(step.due) == 1:
                return False
    return True


def o_election(profile: Profile, today: date) -> date:
    """The first election in kalender.toml on which the person is 18, not before today; else the 18th birthday."""
    b18 = o_birthday(profile.birth_date, 18)
    return next((d for d in sorted(CONTENT.elections) if d >= max(b18, today)), b18)


def o_due(step: Step, profile: Profile, planned: dict[str, date], today: date) -> date:
    """Expected due date of a non-recurring step (``planned`` holds due dates of after: targets)."""
    b16 = o_birthday(profile.birth_date, 16)
    b18 = o_birthday(profile.birth_date, 18)
    bases = {"B": b18, "A16": b16, "V": profile.vertrekdatum, "E": o_election(profile, today)}
    candidates = []
    for rule in step.due:
        base = planned.get(rule.ref) if rule.base == "after" else bases[rule.base]
        if base is not None:
            candidates.append(o_offsets(base, rule))
    if not candidates:  # a V step for someone on their own without a vertrekdatum: from the 18th birthday
        assert profile.vertrekdatum is None and profile.situation in step.conditions.also_without_vertrekdatum
        candidates = [b18]
    due = max(min(candidates), b16)
    if step.conditions.min_age is not None:
        due = max(due, o_birthday(profile.birth_date, step.conditions.min_age))
    return due


# --------------------------------------------------------------------------------------------- strategies
# Integer-based strategies: cheap to generate, so 200 examples per property stay fast.

FIRST_DAY = date(2024, 1, 1)
RECURRING_KEYS = [f"{sid}@{year}" for sid, step in STEPS.items() if step.recurring for year in range(2024, 2036)]
PROGRESS_KEYS = list(STEPS) + RECURRING_KEYS


@st.composite
def profiles(draw, with_v: bool | None = None):
    """(profile, today): ages 12-30, birth dates often on a month end or 29 February."""
    today = FIRST_DAY + timedelta(days=draw(st.integers(0, 9 * 366)))
    birth = today - timedelta(days=draw(st.integers(12 * 366, 30 * 365)))
    kind = draw(st.integers(0, 3))
    if kind == 1:  # last day of the month
        birth = date(birth.year, birth.month, calendar.monthrange(birth.year, birth.month)[1])
    elif kind == 2:  # 29 February
        birth = date(birth.year - birth.year % 4, 2, 29)
    has_v = draw(st.booleans()) if with_v is None else with_v
    v = today + timedelta(days=draw(st.integers(-3650, 3650))) if has_v else None
    situation = draw(st.sampled_from((None, *SITUATIONS)))
    return Profile(birth, "GM0363", v, situation), today


PROGRESS = st.dictionaries(st.sampled_from(PROGRESS_KEYS), st.sampled_from(STATES), max_size=14)
BIRTHS = st.one_of(
    st.sampled_from([date(y, 2, 29) for y in range(1996, 2021, 4)]),
    st.builds(lambda y, m: date(y, m, calendar.monthrange(y, m)[1]), st.integers(1994, 2020), st.integers(1, 12)),
)


# --------------------------------------------------------------------------------------------- properties


@PROPERTY
@given(profiles(), PROGRESS)
def test_applicable_steps_appear_once_with_dates_from_their_rules(pt, progress):
    """Every applicable step appears exactly once; due dates follow the rules; nothing before 16."""
    profile, today = pt
    plan = compute_plan(profile, CONTENT, today, progress)
    ids = [i.step_id for i in plan.items]
    assert len(ids) == len(set(ids))
    assert set(ids) == {sid for sid, step in STEPS.items() if o_applicable(step, profile, today, progress)}

    b16 = o_birthday(profile.birth_date, 16)
    assert plan.birthday_16 == b16
    assert plan.birthday_18 == o_birthday(profile.birth_date, 18)
    planned = {i.step_id: i.due_date for i in plan.items}
    for item in plan.items:
        assert item.due_date >= b16, item.step_id
        step = STEPS[item.step_id]
        if not step.recurring:
            # after:X uses X's planned date (no completion dates passed here)
            assert item.due_date == o_due(step, profile, planned, today), item.step_id
            assert item.progress_key == step.id
            continue
        # recurring: the current cycle is the first occurrence whose end is today or later
        rule = step.due[0]
        if rule.month_day is not None and not rule.offsets:
            assert (item.due_date.month, item.due_date.day) == rule.month_day
        end = item.window.latest if item.window and item.window.latest else item.due_date
        assert end >= today
        assert item.progress_key == f"{step.id}@{item.due_date.year}"


@PROPERTY
@given(BIRTHS, st.integers(0, 9 * 366))
def test_month_ends_and_leap_days(birth, day):
    today = FIRST_DAY + timedelta(days=day)
    profile = Profile(birth, "GM0363", None, None)
    plan = compute_plan(profile, CONTENT, today)
    b18 = o_birthday(birth, 18)
    assert plan.birthday_18 == b18
    if (birth.month, birth.day) == (2, 29) and not calendar.isleap(b18.year):
        assert b18 == date(b18.year, 3, 1)
    item = plan.item("zorgverzekering-kiezen")
    assert item is not None
    expected = max(o_add_months(b18, -3), o_birthday(birth, 16))
    assert item.due_date == expected
    if expected != o_birthday(birth, 16):  # not clamped: same day, or the month's last day
        assert expected.day == min(b18.day, calendar.monthrange(expected.year, expected.month)[1])


@PROPERTY
@given(profiles(), PROGRESS)
def test_states_buckets_order_and_summary(pt, progress):
    """Done steps are in klaar; buckets follow due dates; items are ordered by urgency; summary adds up."""
    profile, today = pt
    plan = compute_plan(profile, CONTENT, today, progress)
    for item in plan.items:
        assert item.state == progress.get(item.progress_key, progress.get(item.step_id, "todo"))
        if item.state in ("done", "not_for_me"):
            assert item.bucket == "klaar" and not item.overdue
            assert item.label == LABELS[item.state]
        elif item.state == "skipped":
            assert item.bucket == "later" and not item.overdue
        else:
            days = (item.due_date - today).days
            assert item.overdue == (days < 0)
            assert item.bucket == ("nu" if days <= 14 else "binnenkort" if days <= 56 else "later")
            if item.overdue:
                assert item.label == "Nog niet gedaan?"
    keys = [(BUCKETS.index(i.bucket), i.due_date, ORDER[i.step_id]) for i in plan.items]
    assert keys == sorted(keys)

    assert [p.leefgebied for p in plan.progress] == list(CONTENT.leefgebieden)
    assert sum(p.total for p in plan.progress) == sum(1 for i in plan.items if i.state != "not_for_me")
    assert sum(p.done for p in plan.progress) == sum(1 for i in plan.items if i.state == "done")
    assert all(0 <= p.done <= p.total for p in plan.progress)

    # pure and JSON-able
    assert plan == compute_plan(profile, CONTENT, today, dict(progress))
    data = plan.to_dict()
    assert [i["step_id"] for i in data["items"]] == [i.step_id for i in plan.items]


@PROPERTY
@given(profiles(with_v=True), st.integers(-3650, 3650))
def test_changing_vertrekdatum_moves_only_v_relative_steps(pt, shift):
    profile, today = pt
    other = Profile(profile.birth_date, profile.gemeente_code, today + timedelta(days=shift), profile.situation)
    a = {i.step_id: i for i in compute_plan(profile, CONTENT, today).items}
    b = {i.step_id: i for i in compute_plan(other, CONTENT, today).items}
    # Both have a vertrekdatum: the same steps apply (but those that depend on V lying after the 18th birthday).
    after_18 = {sid for sid, step in STEPS.items() if step.conditions.leaves_after_18}
    assert set(a) - after_18 == set(b) - after_18
    for sid in after_18 & (set(a) | set(b)):
        leaves = (profile if sid in a else other).vertrekdatum
        assert leaves is not None and leaves > o_birthday(profile.birth_date, 18), sid
    for sid, item in a.items():
        if not depends_on_v(STEPS[sid]) and sid in b:
            assert item.due_date == b[sid].due_date, sid
            assert item.window == b[sid].window, sid


@PROPERTY
@given(profiles(with_v=False))
def test_without_vertrekdatum_no_v_only_steps(pt):
    profile, today = pt
    ids = {i.step_id for i in compute_plan(profile, CONTENT, today).items}
    for sid, step in STEPS.items():
        if profile.situation in step.conditions.also_without_vertrekdatum:
            continue  # living on your own: these steps count from the 18th birthday
        if step.conditions.requires_vertrekdatum or all(needs_v(r) for r in step.due):
            assert sid not in ids, sid
    for moment in reminder_moments(profile, CONTENT, {}, today):
        if moment.rule_id.startswith(OVERDUE_RULE_PREFIX):
            continue  # counted from the due date, tested below
        rule = next(r for r in STEPS[moment.step_id].reminders if r.id == moment.rule_id).rule
        assert "V" not in rule.bases


@PROPERTY
@given(profiles(), PROGRESS)
def test_reminder_moments(pt, progress):
    profile, today = pt
    plan = compute_plan(profile, CONTENT, today, progress)
    by_id = {i.step_id: i for i in plan.items}
    moments = reminder_moments(profile, CONTENT, progress, today)
    pairs = [(m.step_id, m.rule_id) for m in moments]
    assert len(pairs) == len(set(pairs))
    assert [m.due for m in moments] == sorted(m.due for m in moments)
    b16 = o_birthday(profile.birth_date, 16)
    for m in moments:
        assert m.due >= today and m.due >= b16
        assert m.step_id in by_id
        step = STEPS[m.step_id]
        assert progress.get(m.step_id) not in ("done", "not_for_me")
        if not step.recurring:
            assert by_id[m.step_id].state not in ("done", "not_for_me")
        if m.rule_id.startswith(OVERDUE_RULE_PREFIX):
            # After a missed due date: the next day on the grid of every `every_days` days after it.
            assert step.overdue is not None and not step.recurring
            assert not (step.conditions.requires_vertrekdatum and profile.vertrekdatum is None)
            k = int(m.rule_id.removeprefix(OVERDUE_RULE_PREFIX))
            due = by_id[m.step_id].due_date
            assert k >= 1 and m.due == due + timedelta(days=k * step.overdue.every_days)
            assert m.due - timedelta(days=step.overdue.every_days) < max(today, due + timedelta(days=1))
            continue
        rule = next(r for r in step.reminders if r.id == m.rule_id).rule
        if rule.yearly or step.recurring:
            assert m.due <= today + timedelta(days=396)


# --------------------------------------------------------------------------------------------- examples

B2008 = Profile(date(2008, 5, 31), "GM0363", date(2026, 9, 1), "instelling")


def test_example_zorgverzekering_and_werk_nl():
    plan = compute_plan(B2008, CONTENT, date(2026, 1, 15))
    assert plan.birthday_18 == date(2026, 5, 31)
    assert plan.item("zorgverzekering-kiezen").due_date == date(2026, 2, 28)
    assert plan.item("zorgverzekering-controleren").due_date == date(2026, 6, 30)
    assert plan.item("werk-nl-melden").due_date == date(2026, 7, 21)
    assert plan.item("bijstand-aanvragen").due_date == date(2026, 8, 18)  # 4 weeks after werk.nl
    verhuizing = plan.item("verhuizing-doorgeven")
    assert verhuizing.due_date == date(2026, 9, 4)
    assert (verhuizing.window.earliest, verhuizing.window.latest) == (date(2026, 8, 4), date(2026, 9, 6))
    woningnet = plan.item("woningzoekende-inschrijven")
    assert woningnet.due_date == date(2026, 5, 31)
    assert woningnet.bucket == "later" and woningnet.window.earliest == date(2026, 5, 31)
    verlengen = plan.item("woningzoekende-verlengen")
    assert verlengen.due_date == date(2027, 5, 31) and verlengen.progress_key == "woningzoekende-verlengen@2027"
    assert plan.item("toekomstplan-maken").due_date == date(2024, 5, 31)  # A16 is earlier than V-24m
    assert plan.item("toekomstplan-maken").overdue
    assert plan.item("berichtenbox-instellen").due_date == date(2025, 11, 30) + timedelta(weeks=3)


def test_example_born_on_leap_day():
    profile = Profile(date(2008, 2, 29), "GM0363", None, "thuis")
    plan = compute_plan(profile, CONTENT, date(2025, 6, 1))
    assert plan.birthday_16 == date(2024, 2, 29)
    assert plan.birthday_18 == date(2026, 3, 1)
    assert plan.item("zorgverzekering-kiezen").due_date == date(2025, 12, 1)
    assert plan.item("zorgtoeslag-aanvragen").due_date == date(2026, 3, 1)
    assert plan.item("zorgverzekering-controleren").due_date == date(2026, 4, 1)
    assert age_on(date(2008, 2, 29), date(2026, 2, 28)) == 17
    assert age_on(date(2008, 2, 29), date(2026, 3, 1)) == 18
    assert age_on(date(2008, 2, 29), date(2028, 2, 29)) == 20
    # WoningNet anniversary of a 1 March registration stays 1 March
    assert plan.item("woningzoekende-verlengen").due_date == date(2027, 3, 1)


def test_example_leap_day_birth_in_leap_year_of_18():
    profile = Profile(date(2012, 2, 29), "GM0363", None, None)
    plan = compute_plan(profile, CONTENT, date(2027, 1, 1))
    assert plan.birthday_16 == date(2028, 2, 29)
    assert plan.birthday_18 == date(2030, 3, 1)
    assert plan.item("zorgverzekering-kiezen").due_date == date(2029, 12, 1)
    assert plan.item("toekomstplan-maken").due_date == date(2028, 2, 29)


def test_without_vertrekdatum_birthday_plan_only():
    profile = Profile(date(2008, 5, 31), "GM0363", None, "thuis")
    plan = compute_plan(profile, CONTENT, date(2026, 1, 15))
    ids = {i.step_id for i in plan.items}
    assert "werk-nl-melden" not in ids and "verhuizing-doorgeven" not in ids and "huurtoeslag-aanvragen" not in ids
    assert plan.item("geldoverzicht-maken").due_date == date(2026, 5, 31)  # B, since there is no V-3m
    assert plan.item("toekomstplan-maken").due_date == date(2024, 5, 31)


def test_earlier_trigger_wins():
    early_v = Profile(date(2008, 5, 31), "GM0363", date(2026, 1, 10), "instelling")
    plan = compute_plan(early_v, CONTENT, date(2025, 9, 1))
    # id-bewijs: B-6m = 2025-11-30, V-3m = 2025-10-10 -> the earlier one
    assert plan.item("id-bewijs-aanvragen").due_date == date(2025, 10, 10)
    # werk.nl V-6w = 2025-11-29 is before 18: moved to the 18th birthday (bijstand from 18)
    assert plan.item("werk-nl-melden").due_date == date(2026, 5, 31)


def test_young_person_nothing_before_sixteen():
    profile = Profile(date(2013, 7, 15), "GM0363", date(2028, 1, 1), "pleeggezin")
    plan = compute_plan(profile, CONTENT, date(2026, 1, 1))
    assert min(i.due_date for i in plan.items) == date(2029, 7, 15)
    assert plan.item("toekomstplan-maken").due_date == date(2029, 7, 15)  # V-24m (2026) clamped to 16
    assert all(i.bucket == "later" for i in plan.items)


def test_older_person_sees_gentle_overdue_labels():
    profile = Profile(date(2005, 3, 10), "GM0363", None, "zelfstandig")
    plan = compute_plan(profile, CONTENT, date(2026, 1, 15), {"zorgverzekering-kiezen": "done"})
    overdue = [i for i in plan.items if i.overdue]
    assert overdue and all(i.label == "Nog niet gedaan?" and i.bucket == "nu" for i in overdue)
    assert plan.item("zorgverzekering-kiezen").bucket == "klaar"
    assert plan.item("verlengde-jeugdhulp-regelen") is not None  # 20 <= max_age 22
    older = Profile(date(2002, 3, 10), "GM0363", None, "zelfstandig")
    assert compute_plan(older, CONTENT, date(2026, 1, 15)).item("verlengde-jeugdhulp-regelen") is None


def test_states_and_progress_summary():
    progress = {"zorgverzekering-kiezen": "done", "stemmen": "not_for_me", "bankrekening-regelen": "skipped"}
    plan = compute_plan(B2008, CONTENT, date(2026, 1, 15), progress)
    assert plan.item("zorgverzekering-kiezen").bucket == "klaar"
    assert plan.item("stemmen").bucket == "klaar" and plan.item("stemmen").label == "Niet voor mij"
    skipped = plan.item("bankrekening-regelen")
    assert skipped.bucket == "later" and not skipped.overdue and skipped.label == "Later bekijken"
    assert plan.item("zorgverzekering-controleren").waiting_for == ()
    gezondheid = next(p for p in plan.progress if p.leefgebied == "gezondheid")
    papieren = next(p for p in plan.progress if p.leefgebied == "papieren")
    assert gezondheid.done == 1
    assert papieren.total == sum(1 for i in plan.items if i.leefgebied == "papieren") - 1
    with pytest.raises(ValueError, match="unknown progress state"):
        compute_plan(B2008, CONTENT, date(2026, 1, 15), {"stemmen": "misschien"})


def test_after_rule_uses_completion_date():
    today = date(2026, 1, 15)
    plan = compute_plan(
        B2008, CONTENT, today, {"digid-aanvragen": "done"}, completed_on={"digid-aanvragen": date(2026, 1, 10)}
    )
    assert plan.item("berichtenbox-instellen").due_date == date(2026, 1, 31)
    assert plan.item("berichtenbox-instellen").waiting_for == ()
    plan = compute_plan(
        B2008, CONTENT, today, {"werk-nl-melden": "done"}, completed_on={"werk-nl-melden": date(2026, 7, 1)}
    )
    assert plan.item("bijstand-aanvragen").due_date == date(2026, 7, 29)


def test_recurring_belastingaangifte_cycles():
    profile = Profile(date(2007, 1, 1), "GM0363", None, None)
    in_window = compute_plan(profile, CONTENT, date(2026, 3, 10)).item("belastingaangifte-doen")
    assert in_window.due_date == date(2026, 3, 1) and in_window.overdue and in_window.bucket == "nu"
    assert in_window.window.latest == date(2026, 5, 1)
    assert in_window.progress_key == "belastingaangifte-doen@2026"
    done = compute_plan(profile, CONTENT, date(2026, 3, 10), {"belastingaangifte-doen@2026": "done"})
    assert done.item("belastingaangifte-doen").bucket == "klaar"
    after_window = compute_plan(profile, CONTENT, date(2026, 5, 2), {"belastingaangifte-doen@2026": "done"})
    item = after_window.item("belastingaangifte-doen")
    assert item.due_date == date(2027, 3, 1) and item.state == "todo" and item.bucket == "later"
    moments = reminder_moments(profile, CONTENT, {"belastingaangifte-doen@2026": "done"}, date(2026, 3, 2))
    assert [m for m in moments if m.step_id == "belastingaangifte-doen"] == [
        ReminderMoment("belastingaangifte-doen", "mrt-01", date(2027, 3, 1)),
        ReminderMoment("belastingaangifte-doen", "mrt-25", date(2027, 3, 25)),
        # 20 April 2027 is beyond the 13-month horizon
    ]


def test_reminder_examples():
    moments = reminder_moments(B2008, CONTENT, {"id-bewijs-aanvragen": "done"}, date(2026, 1, 15))
    got = {(m.step_id, m.rule_id): m.due for m in moments}
    assert got[("zorgverzekering-kiezen", "b-3m")] == date(2026, 2, 28)
    assert got[("zorgverzekering-controleren", "b+3m")] == date(2026, 8, 31)
    assert got[("werk-nl-melden", "v-6w")] == date(2026, 7, 21)
    assert got[("verhuizing-doorgeven", "v+3d")] == date(2026, 9, 4)
    assert got[("eigen-risico-sparen", "jan-01")] == date(2027, 1, 1)
    assert got[("toeslagen-jaarlijks-checken", "jan-01")] == date(2027, 1, 1)
    assert ("zorgverzekering-kiezen", "b-6m") not in got  # no such rule
    assert ("digid-aanvragen", "b-6m") not in got  # in the past
    assert not any(sid == "id-bewijs-aanvragen" for sid, _ in got)  # done
    # WoningNet V-24m only counts when the person is 18 by then
    assert ("woningzoekende-inschrijven", "v-24m") not in got
    late = Profile(date(2008, 5, 31), "GM0363", date(2029, 6, 1), "instelling")
    got = {(m.step_id, m.rule_id): m.due for m in reminder_moments(late, CONTENT, {}, date(2026, 1, 15))}
    assert got[("woningzoekende-inschrijven", "v-24m")] == date(2027, 6, 1)
    # toeslagen check on 15 August belongs to the cycle of 1 January
    adult = Profile(date(2005, 5, 31), "GM0363", None, None)
    got = {(m.step_id, m.rule_id): m.due for m in reminder_moments(adult, CONTENT, {}, date(2026, 1, 15))}
    assert got[("toeslagen-jaarlijks-checken", "aug-15")] == date(2026, 8, 15)
    assert got[("toeslagen-jaarlijks-checken", "jan-01")] == date(2027, 1, 1)


AGE = {"birth_date": "Je geboortedatum klopt niet: je moet tussen 12 en 30 jaar zijn."}
BAD_BIRTH = {"birth_date": "Je geboortedatum klopt niet. Kies een datum die bestaat."}
BAD_V = {"vertrekdatum": "Je vertrekdatum klopt niet. Kies een datum die bestaat."}
FAR_V = {"vertrekdatum": "Je vertrekdatum klopt niet: kies een datum tot 10 jaar terug of 10 jaar vooruit."}
BAD_SITUATION = {"situation": "Kies waar je nu woont uit de lijst."}


@pytest.mark.parametrize(
    ("birth", "vertrek", "situation", "expected"),
    [
        (date(2008, 5, 31), date(2026, 9, 1), "instelling", {}),
        ("2008-05-31", "2026-09-01", None, {}),
        (date(2014, 1, 15), None, None, {}),  # exactly 12
        (date(1995, 1, 16), None, None, {}),  # 30 (31 on 16 January 2026)
        (date(2014, 1, 16), None, None, AGE),  # 11
        (date(1995, 1, 15), None, None, AGE),  # 31
        ("2008-02-30", None, None, BAD_BIRTH),
        (None, None, None, {"birth_date": "Vul je geboortedatum in."}),
        (date(2008, 5, 31), "2026-13-01", None, BAD_V),
        (date(2008, 5, 31), date(2036, 1, 16), None, FAR_V),
        (date(2008, 5, 31), date(2036, 1, 15), None, {}),
        (date(2008, 5, 31), date(2016, 1, 15), None, {}),
        (date(2008, 5, 31), date(2016, 1, 14), None, FAR_V),
        (date(2008, 5, 31), None, "camping", BAD_SITUATION),
        (date(2008, 2, 29), "", "", {}),
    ],
)
def test_validate_profile(birth, vertrek, situation, expected):
    assert validate_profile(birth, vertrek, situation, today=date(2026, 1, 15)) == expected


def test_situation_condition():
    base = Profile(date(2008, 5, 31), "GM0363", None, None)
    today = date(2026, 1, 15)
    for situation, shown in [("pleeggezin", True), (None, True), ("thuis", False), ("instelling", False)]:
        profile = Profile(base.birth_date, base.gemeente_code, None, situation)
        assert (compute_plan(profile, CONTENT, today).item("pleegzorg-na-18-bespreken") is not None) == shown
    # max_age 20: hidden from 21 on
    older = Profile(date(2005, 1, 1), "GM0363", None, "pleeggezin")
    assert compute_plan(older, CONTENT, today).item("pleegzorg-na-18-bespreken") is None


def test_min_age_step_is_shown_before_that_age_but_not_due_before_it():
    profile = Profile(date(2010, 6, 15), "GM0363", date(2027, 1, 1), "instelling")  # 15 today, leaves at 16
    plan = compute_plan(profile, CONTENT, date(2026, 1, 15))
    woningnet = plan.item("woningzoekende-inschrijven")
    assert woningnet is not None and woningnet.bucket == "later"
    assert woningnet.due_date == woningnet.window.earliest == date(2028, 6, 15)
    # leaving before 18: werk.nl (min_age 18) is due on the 18th birthday, verhuizing keeps its V dates
    assert plan.item("werk-nl-melden").due_date == date(2028, 6, 15)
    assert plan.item("verhuizing-doorgeven").due_date == date(2027, 1, 4)


def test_plan_to_dict_matches_api_shape():
    data = compute_plan(B2008, CONTENT, date(2026, 1, 15)).to_dict()
    assert data["birthday_18"] == "2026-05-31" and data["birthday_16"] == "2024-05-31"
    item = next(i for i in data["items"] if i["step_id"] == "verhuizing-doorgeven")
    assert item["window"] == {"earliest": "2026-08-04", "latest": "2026-09-06"}
    assert set(item) >= {"step_id", "checklist", "leefgebied", "title", "due_date", "bucket", "state", "overdue"}
    assert {p["leefgebied"] for p in data["progress"]} == set(CONTENT.leefgebieden)
