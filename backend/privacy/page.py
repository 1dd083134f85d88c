"""The export as a page people can read (B1 Dutch), rendered on the server.

Every value goes through html.escape. No script and no inline style (the Content-Security-Policy blocks
both); the app's own stylesheet gives it the look of the app.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from html import escape

from backend.checklists.content import SITUATION_LABELS
from backend.clock import NL
from backend.privacy.models import ExportOut

MONTHS = "januari februari maart april mei juni juli augustus september oktober november december".split()
ROLES = {"jongere": "jongere", "mentor": "meekijker", "editor": "redacteur sociale kaart", "admin": "beheerder"}
STATES = {"done": "gedaan", "todo": "nog doen", "not_for_me": "niet voor mij", "skipped": "overgeslagen"}
REMINDER_STATUS = {
    "pending": "komt nog",
    "sent": "verstuurd",
    "inbox": "alleen in de app",
    "failed": "niet aangekomen",
}

Cell = str | int | bool | date | datetime | None


def _day(d: date) -> str:
    return f"{d.day} {MONTHS[d.month - 1]} {d.year}"


def _text(value: Cell) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "ja" if value else "nee"
    if isinstance(value, datetime):
        local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(NL)
        return f"{_day(local.date())}, {local:%H:%M}"
    if isinstance(value, date):
        return _day(value)
    return str(value)


def _section(title: str, intro: str, body: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n<p>{escape(intro)}</p>\n{body}</section>\n"


def _fields(pairs: Iterable[tuple[str, Cell]]) -> str:
    rows = "".join(f"<dt>{escape(k)}</dt><dd>{escape(_text(v))}</dd>\n" for k, v in pairs)
    return f"<dl>\n{rows}</dl>\n"


def _table(head: Sequence[str], rows: Iterable[Sequence[Cell]], empty: str) -> str:
    body = "".join("<tr>" + "".join(f"<td>{escape(_text(c))}</td>" for c in r) + "</tr>\n" for r in rows)
    if not body:
        return f"<p><em>{escape(empty)}</em></p>\n"
    cols = "".join(f'<th scope="col">{escape(h)}</th>' for h in head)
    return f"<table>\n<thead><tr>{cols}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _list(items: Iterable[str] | None) -> str:
    return ", ".join(items) if items else "-"


def render(data: ExportOut) -> str:
    a = data.account
    parts = [
        _section(
            "Je account",
            "Je logt in met je gebruikersnaam. Je wachtwoord en herstelcode bewaren we alleen versleuteld.",
            _fields(
                [
                    ("Gebruikersnaam", a.username),
                    ("Soort account", ROLES.get(a.role, a.role)),
                    ("Naam die anderen zien", a.display_name),
                    ("Gemaakt op", a.created_at),
                    ("Laatst gebruikt", a.last_seen_at),
                    ("Wachtwoord veranderd op", a.password_changed_at),
                ]
            ),
        ),
    ]
    p = data.profile
    parts.append(
        _section(
            "Je profiel",
            "Dit hebben we nodig om je stappen en datums te maken.",
            _fields(
                [
                    ("Geboortedatum", p.birth_date),
                    ("Gemeente", p.gemeente or p.gemeente_code),
                    ("Vertrekdatum", p.vertrekdatum),
                    ("Waar je woont", SITUATION_LABELS.get(p.situation or "", p.situation)),
                    ("Gemeente waar je gaat wonen", p.future_gemeente or p.future_gemeente_code),
                    ("Veranderd op", p.updated_at),
                ]
            )
            if p
            else "<p><em>Je hebt geen profiel opgeslagen.</em></p>\n",
        )
    )
    parts.append(
        _section(
            "Je stappen",
            "Wat je hebt afgevinkt of overgeslagen.",
            _table(
                ["Stap", "Wat", "Veranderd op"],
                ((s.title or s.step_id, STATES.get(s.state, s.state), s.updated_at) for s in data.progress),
                "Je hebt nog geen stappen afgevinkt.",
            ),
        )
    )
    prefs = data.reminder_preferences
    parts.append(
        _section(
            "Herinneringen",
            "Hoe je herinneringen wilt krijgen, en welke herinneringen er voor je klaarstaan.",
            (
                _fields(
                    [
                        ("Pushberichten aan", prefs.push_enabled),
                        ("Stil vanaf", prefs.quiet_start),
                        ("Stil tot", prefs.quiet_end),
                        ("Gepauzeerd tot en met", prefs.paused_until),
                        ("Over", "alle onderwerpen" if prefs.leefgebieden is None else _list(prefs.leefgebieden)),
                    ]
                )
                if prefs
                else "<p><em>Je gebruikt de gewone instellingen.</em></p>\n"
            )
            + _table(
                ["Stap", "Datum", "Status", "Gelezen"],
                (
                    (r.title or r.step_id, r.due_on, REMINDER_STATUS.get(r.status, r.status), r.read)
                    for r in data.reminders
                ),
                "Er zijn geen herinneringen.",
            ),
        )
    )
    parts.append(
        _section(
            "Apparaten met pushberichten",
            "Van elk apparaat laten we alleen de pushdienst zien, niet het hele adres of de sleutels.",
            _table(
                ["Pushdienst", "Aangezet op"],
                ((d.endpoint_host, d.created_at) for d in data.push_subscriptions),
                "Geen apparaten.",
            ),
        )
    )
    role = data.account.role
    if role == "jongere" or data.followers or data.open_invites:
        parts.append(
            _section(
                "Wie kijkt met je mee",
                "Deze mensen zien alleen de onderwerpen die jij hebt gekozen.",
                _table(
                    ["Naam", "Wie", "Ziet", "Sinds", "Laatst gekeken"],
                    ((f.name, f.role_label, _list(f.leefgebieden), f.since, f.last_viewed_at) for f in data.followers),
                    "Niemand kijkt met je mee.",
                )
                + _table(
                    ["Uitnodiging voor", "Onderwerpen", "Gemaakt op", "Geldig tot"],
                    ((i.role_label, _list(i.leefgebieden), i.created_at, i.expires_at) for i in data.open_invites),
                    "Je hebt geen open uitnodigingen.",
                ),
            )
        )
    if role == "mentor" or data.following or data.messages_sent:
        parts.append(
            _section(
                "Met wie jij meekijkt",
                "Van deze jongeren zie je wat zij met je delen.",
                _table(
                    ["Naam", "Jij bent", "Je ziet", "Sinds"],
                    ((f.name, f.role_label, _list(f.leefgebieden), f.since) for f in data.following),
                    "Je kijkt met niemand mee.",
                )
                + _table(
                    ["Aan", "Bericht", "Verstuurd op"],
                    ((m.to, m.text, m.created_at) for m in data.messages_sent),
                    "Je hebt geen berichten gestuurd.",
                ),
            )
        )
    parts.append(
        _section(
            "Je berichten",
            "Berichten die je in de app hebt gekregen.",
            _table(
                ["Van", "Bericht", "Ontvangen op", "Gelezen"],
                ((m.sender_name, m.text, m.created_at, m.read) for m in data.messages),
                "Je hebt geen berichten.",
            ),
        )
    )
    parts.append(
        _section(
            "Wie keek naar jouw gegevens",
            "Elke keer dat iemand meekijkt, schrijven we dat op. Niemand kan dit veranderen.",
            _table(
                ["Wie", "Wat", "Wanneer"],
                ((e.actor_name, e.what, e.created_at) for e in data.audit),
                "Niemand heeft naar je gegevens gekeken.",
            ),
        )
    )
    if data.views:
        parts.append(
            _section(
                "Waar jij naar keek",
                "Dit staat in het overzicht van de jongere, zodat zij weet wie er keek.",
                _table(
                    ["Jongere", "Wat", "Wanneer"],
                    ((v.jongere, v.what, v.created_at) for v in data.views),
                    "",
                ),
            )
        )
    parts.append(
        _section(
            "Inloggen",
            "Op welke apparaten je bent ingelogd, en hoe vaak iemand met een fout wachtwoord probeerde in te loggen.",
            _fields([("Ingelogde apparaten", data.sessions.count)])
            + _table(
                ["Ingelogd op", "Laatst gebruikt", "Loopt af op"],
                ((s.created_at, s.last_used_at, s.expires_at) for s in data.sessions.items),
                "",
            )
            + _table(
                ["Organisatie (inloggen via je werk)", "Sinds"],
                ((o.issuer, o.created_at) for o in data.oidc_identities),
                "Je logt niet in via een organisatie.",
            )
            + _table(
                ["Poging", "Vanaf", "Aantal"],
                ((t.what, t.window_start, t.count) for t in data.attempts),
                "Er zijn geen mislukte pogingen bewaard.",
            ),
        )
    )
    k = data.kaart
    if k.gemeenten or k.actions or k.corrections_sent:
        parts.append(
            _section(
                "Sociale kaart",
                "Wat je aan de sociale kaart hebt gedaan, en wat je hebt gemeld bij 'Klopt dit niet?'.",
                (_fields([("Jij mag veranderen", _list(k.gemeenten))]) if k.gemeenten else "")
                + _table(["Kaart", "Wat", "Wanneer"], ((x.kaart, x.what, x.at) for x in k.actions), "")
                + _table(
                    ["Dienst", "Je melding", "Contact", "Status", "Gemeld op"],
                    ((c.service_name, c.message, c.contact, c.status, c.created_at) for c in k.corrections_sent),
                    "",
                ),
            )
        )
    return (
        '<!doctype html>\n<html lang="nl">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex">\n'
        "<title>Mijn gegevens bij Startklaar</title>\n"
        '<link rel="stylesheet" href="/css/app.css">\n</head>\n<body>\n<main class="privacy-export">\n'
        "<h1>Mijn gegevens bij Startklaar</h1>\n"
        f"<p>Dit is alles wat Startklaar over jou bewaart. Gemaakt op {escape(_text(data.generated_at))}.</p>\n"
        "<p>Wil je dat we alles weggooien? Verwijder dan je account in de app, bij Ik. "
        "Dan is alles meteen weg.</p>\n"
        # A link first: the main area scrolls (app.css), and keyboard users need something to focus in it.
        '<p><a href="/ik">Terug naar de app</a></p>\n' + "".join(parts) + "</main>\n</body>\n</html>\n"
    )
