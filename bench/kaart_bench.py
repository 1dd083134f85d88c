"""Sociale kaart at national scale: 342 gemeenten x 150 services (about 51,000), plus the national kaart.

Reports, per database:
- load time of the whole national set (parse + validate + store + publish per gemeente, through the service);
- search p50/p95/p99 at 20 concurrent connections (wrk, a Lua script cycling through requests that vary
  gemeente, q, topic, leefgebied, open_now, leeftijd, gratis and postcode), after a warm-up;
- memory (RSS) of each API process after every gemeente's kaart is in its cache;
- validate + publish of a 5,000-row upload over HTTP (beheer API, multipart), target <= 5 s.

Run: .venv/bin/python -m bench.kaart_bench [--db sqlite|postgres|both] [--seconds 15] [--services 150]
Needs wrk (apt-get install -y wrk). Targets (issue): search p95 <= 30 ms, 5,000-row upload <= 5 s.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import random
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlmodel import Session

from backend import migrate
from backend.accounts.models import AuthSession, UserAccount
from backend.accounts.service import hash_secret
from backend.db import make_engine
from backend.gemeenten.service import read_gemeenten_csv
from backend.kaart import postcodes, service
from backend.kaart.records import load_taxonomy
from backend.kaart.validation import COLUMNS
from bench.common import database, run_wrk_script, server, settle

CONNECTIONS = 20
WIJKEN = ["Centrum", "Noord", "Oost", "Zuid", "West", "De Hoven", "Het Dorp", "Buitenwijk", "Stadshart", "Haven"]
# (service name, organisation, topics, description); {g} = gemeente, {w} = wijk
TYPES = [
    ("Jongerenloket", "Gemeente {g}", "brp-inschrijving, digid, uitkering, zorgtoeslag",
     "Word je bijna 18? Bij het jongerenloket helpen we je met inschrijven, DigiD, zorgverzekering en toeslagen."),
    ("Schuldhulpverlening", "Gemeente {g}", "schulden, geldzaken",
     "Heb je schulden of rekeningen die je niet kunt betalen? Samen maken we een plan. Gratis en zonder oordeel."),
    ("Budgetcursus {w}", "Stichting Geldwijzer {g}", "geldzaken, bankrekening",
     "In vier avonden leer je een budget maken, sparen en je post ordenen. Je krijgt een eigen budgetcoach."),
    ("Wijkteam {w}", "Wijkteam {g}", "jeugdhulp-wmo, toekomstplan",
     "Het wijkteam helpt als het thuis, op school of met geld niet lukt. Ook voor je toekomstplan na de jeugdhulp."),
    ("Huisartsenpost", "Huisartsenpost regio {g}", "huisarts",
     "Voor dringende medische hulp 's avonds, 's nachts en in het weekend. Bel altijd eerst."),
    ("Jongerenwerk {w}", "Stichting Jongerenwerk {g}", "vrije-tijd, relaties",
     "Kom langs in het jongerencentrum: sport, muziek, een goed gesprek of hulp met je cv."),
    ("Nachtopvang", "Leger des Heils {g}", "opvang",
     "Een veilige slaapplek als je geen dak boven je hoofd hebt. Je krijgt ook een maaltijd en een douche."),
    ("Begeleid wonen {w}", "Stichting Kamers met Kansen {g}", "begeleid-wonen, woningzoeken",
     "Een eigen kamer met begeleiding, zodat je leert zelfstandig te wonen. Voor jongeren van 18 tot 23 jaar."),
    ("Werkplein", "Werkplein {g}", "werk, uitkering",
     "Hulp bij werk zoeken, solliciteren en een uitkering aanvragen. Ook als je geen startkwalificatie hebt."),
    ("Sociaal raadslieden", "Sociaal Raadslieden {g}", "toeslagen, belastingaangifte, juridisch",
     "Gratis hulp met formulieren, toeslagen, belastingaangifte en brieven van instanties die je niet begrijpt."),
    ("Praatgroep {w}", "GGZ {g}", "psychische-hulp",
     "Zit je niet lekker in je vel? Praat met jongeren die hetzelfde meemaken, onder begeleiding."),
    ("Verslavingszorg", "Tactus {g}", "verslaving",
     "Vragen over alcohol, drugs of gamen? Anoniem advies en behandeling voor jongeren."),
    ("Digitaal spreekuur", "Bibliotheek {g}", "digid, id-bewijs",
     "Hulp bij DigiD, online formulieren en je paspoort of ID-kaart aanvragen. Loop gewoon binnen."),
    ("Studieloket", "ROC {g}", "school, studiefinanciering",
     "Twijfel je over je opleiding of studiefinanciering? Maak een afspraak met een studieadviseur."),
    ("Briefadres", "Gemeente {g}", "briefadres, brp-inschrijving",
     "Geen vast woonadres? Vraag een briefadres aan, zodat je post krijgt en ingeschreven blijft."),
]  # fmt: skip
HOURS = [
    "ma-vr 09:00-17:00",
    "ma-do 09:00-17:00; vr 09:00-12:00",
    "di, do 13:00-17:00",
    "ma-vr 08:30-17:00; za 10:00-12:00",
    "24/7",
    "ma-vr 09:00-12:00, 13:00-17:00",
    "op afspraak",
    "wo 14:00-20:00; za 12:00-17:00",
    "vr 22:00-02:00; za 22:00-03:00",
]
AREAS = ["10", "13", "15", "20", "23", "24", "26", "30", "33", "35", "38", "40", "43", "45", "50", "53", "58", "70"]
QUERIES = ["", "", "schuld", "huisarts", "werk", "jongerenloket", "zorgverzekering", "wonen", "geld", "digid"]


def _pc4s_of(code: str) -> list[str]:
    table = postcodes.table()
    found = [str(n) for r in table._ranges if code in r.gemeenten for n in range(r.first, r.last + 1)]
    if found:
        return found
    h = int(hashlib.sha256(code.encode()).hexdigest(), 16)
    return [str(1000 + (h + k) % 8999) for k in range(12)]  # no centre known: no distances


def kaart_rows(code: str, naam: str, n: int, rnd: random.Random) -> list[dict[str, str]]:
    pcs = _pc4s_of(code)
    rows = []
    for i in range(n):
        name, org, topics, desc = TYPES[i % len(TYPES)]
        wijk = WIJKEN[(i // len(TYPES)) % len(WIJKEN)]
        variant = i // (len(TYPES) * len(WIJKEN))
        dienst = (name if "{w}" in name else name + " {w}").format(g=naam, w=wijk) + (
            f" {variant + 1}" if variant else ""
        )
        rows.append(
            {
                "organisatie": org.format(g=naam),
                "dienst_id": f"{code}-{i:05d}",
                "dienst": dienst,
                "omschrijving": desc + f" Voor jongeren in {naam}.",
                "voor_wie": "Jongeren van 16 tot 27 jaar.",
                "onderwerpen": topics,
                "minimum_leeftijd": str(rnd.choice(["", "", "16", "18"])),
                "maximum_leeftijd": str(rnd.choice(["", "23", "27"])),
                "kosten": rnd.choice(["gratis", "gratis", "gratis", "eigen bijdrage 10 euro"]),
                "aanmelden": "Bel of loop binnen.",
                "locatienaam": f"{wijk} {naam}",
                "straat": f"{wijk}straat".replace(" ", ""),
                "huisnummer": str(1 + i % 120),
                "postcode": f"{rnd.choice(pcs)} {rnd.choice('ABCDEFGHJK')}{rnd.choice('LMNPRSTVWX')}",
                "plaats": naam,
                "telefoon": f"0{rnd.choice(AREAS)} {rnd.randint(100, 999)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
                "website": f"https://www.{re.sub(r'[^a-z]', '', naam.lower())[:20] or 'gemeente'}.example/{i}",
                "openingstijden": rnd.choice(HOURS),
                "uitzonderingen": rnd.choice(["", "feestdagen gesloten"]),
                "gecontroleerd_op": "2026-01-15",
            }
        )
    return rows


def to_csv(rows: list[dict[str, str]]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(COLUMNS), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def seed(db_url: str, per_gemeente: int) -> tuple[float, int, str, list[str]]:
    """The national set, loaded and published through the service; returns (seconds, services, admin cookie
    + csrf, gemeente codes)."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    rnd = random.Random(7)
    gemeenten = read_gemeenten_csv()
    actor = service.Actor("bench")
    total = 0
    started = time.perf_counter()
    today = datetime.now(UTC).date()
    with Session(engine) as s:
        data = Path(__file__).resolve().parent.parent.joinpath("sociale_kaart", "landelijk.csv").read_bytes()
        result = service.parse_file(data, "landelijk.csv", None, "landelijk", today)
        v, _ = service.store_version(s, "landelijk", result, "landelijk.csv", actor)
        service.publish(s, "landelijk", v.id, actor)  # type: ignore[arg-type]
        s.commit()
    for g in gemeenten:
        rows = kaart_rows(g.code, g.weergavenaam, per_gemeente, rnd)
        with Session(engine) as s:
            result = service.parse_file(to_csv(rows), f"{g.code}.csv", None, g.code, today)
            if not result.report.ok:
                raise SystemExit(f"{g.code}: generated kaart has errors: {result.report.errors[:3]}")
            v, _ = service.store_version(s, g.code, result, f"{g.code}.csv", actor)
            service.publish(s, g.code, v.id, actor)  # type: ignore[arg-type]
            s.commit()
        total += len(result.kaart.services)
    seconds = time.perf_counter() - started
    with Session(engine) as s:
        admin = UserAccount(
            username="bench-admin", password_hash=hash_secret("x" * 12), recovery_code_hash="x", role="admin"
        )
        s.add(admin)
        s.flush()
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
        s.add(
            AuthSession(
                token_hash=hashlib.sha256(token.encode()).hexdigest(),
                user_id=admin.id,  # type: ignore[arg-type]
                csrf_token=csrf,
                expires_at=datetime.now(UTC) + timedelta(days=1),
            )
        )
        s.commit()
    settle(engine)
    engine.dispose()
    return seconds, total, f"{token}|{csrf}", [g.code for g in gemeenten]


def search_paths(codes: list[str], n: int = 3000) -> list[str]:
    rnd = random.Random(11)
    topics = list(load_taxonomy().topics)
    areas = list(load_taxonomy().leefgebieden)
    paths = []
    for _ in range(n):
        code = rnd.choice(codes)
        params: list[tuple[str, str]] = []
        if q := rnd.choice(QUERIES):
            params.append(("q", q))
        if rnd.random() < 0.3:
            params += [("topic", t) for t in rnd.sample(topics, rnd.randint(1, 3))]
        if rnd.random() < 0.15:
            params.append(("leefgebied", rnd.choice(areas)))
        if rnd.random() < 0.25:
            params.append(("open_now", "true"))
        if rnd.random() < 0.2:
            params.append(("leeftijd", str(rnd.randint(16, 27))))
        if rnd.random() < 0.15:
            params.append(("gratis", "true"))
        if rnd.random() < 0.3:
            params.append(("postcode", rnd.choice(_pc4s_of(code))))
        paths.append(f"/api/kaart/{code}/services" + ("?" + urlencode(params) if params else ""))
    return paths


LUA = """
local paths = {%(paths)s}
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", paths[(n %% #paths) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %%d %%d %%.3f %%.3f %%.3f\\n", summary.requests,
    e.status + e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def run_wrk(url: str, paths: list[str], seconds: int) -> tuple[float, float, float, float, int, int]:
    r = run_wrk_script(url, LUA % {"paths": ",".join(f'"{p}"' for p in paths)}, CONNECTIONS, seconds)
    return r.rps, r.p50_ms, r.p95_ms, r.p99_ms, r.requests, r.errors


def _workers(pid: int) -> list[int]:
    """The uvicorn supervisor's API worker processes (not multiprocessing's resource tracker)."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]


def rss_mb(pid: int) -> list[float]:
    out = []
    for child in _workers(pid):
        m = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{child}/status").read_text())
        if m:
            out.append(int(m.group(1)) / 1024)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the API workers so far."""
    total = 0
    for child in _workers(pid):
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def big_upload(url: str, admin: str, rows: int) -> tuple[float, float, int]:
    token, csrf = admin.split("|")
    data = to_csv(kaart_rows("GM0034", "Almere", rows, random.Random(3)))
    headers = {"Cookie": f"sk_session={token}", "X-CSRF-Token": csrf}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as c:
        t0 = time.perf_counter()
        r = c.post("/api/beheer/kaart/GM0034/uploads", files={"file": ("almere.csv", data, "text/csv")})
        t1 = time.perf_counter()
        assert r.status_code == 201, r.text[:500]
        vid = r.json()["version"]["id"]
        p = c.post(f"/api/beheer/kaart/GM0034/versions/{vid}/publish")
        t2 = time.perf_counter()
        assert p.status_code == 200, p.text
        check = c.get("/api/kaart/GM0034/services", params={"q": "schuld"})
        assert check.status_code == 200
    return t1 - t0, t2 - t1, len(data)


def run(kind: str, seconds: int, per_gemeente: int) -> None:
    with database(kind) as url:
        load_s, total, admin, codes = seed(url, per_gemeente)
        paths = search_paths(codes)
        with server(url, workers=2) as (base, proc):
            warm = [f"/api/kaart/{c}/services" for c in codes]
            # Warm up until every kaart is in both processes' caches (the steady state of a running server).
            run_wrk(base, warm * 4, 5)
            run_wrk(base, paths, 5)
            load_before = load_average()
            cpu0 = cpu_seconds(proc.pid)
            rps, p50, p95, p99, n, errors = run_wrk(base, paths, seconds)
            cpu_ms = 1000 * (cpu_seconds(proc.pid) - cpu0) / max(n, 1)
            load_after = load_average()
            memory = rss_mb(proc.pid)
            upload_s, publish_s, size = big_upload(base, admin, 5000)
    print(f"\n[{kind}] {len(codes)} gemeenten x {per_gemeente} services = {total} services (+ landelijk)")
    print(f"load + publish of the national set (service, one process): {load_s:6.1f} s")
    verdict = "OK" if p95 <= 30 and errors == 0 else "BELOW TARGET"
    print(
        f"search, {CONNECTIONS} connections, {seconds} s, 2 API processes: {rps:7.0f} req/s  p50 {p50:5.1f} ms  "
        f"p95 {p95:5.1f} ms  p99 {p99:5.1f} ms  errors {errors}/{n}  (target p95 <= 30 ms: {verdict})"
    )
    print(f"  server CPU per search request: {cpu_ms:.2f} ms; load average before/after: {load_before} / {load_after}")
    print(f"RSS per API process with every kaart cached: {', '.join(f'{mb:.0f} MB' for mb in memory)}")
    total_s = upload_s + publish_s
    verdict = "OK" if total_s <= 5 else "BELOW TARGET"
    print(
        f"5,000-row upload ({size / 1e6:.1f} MB CSV) over HTTP: validate + store {upload_s:.2f} s, publish "
        f"{publish_s:.2f} s, total {total_s:.2f} s (target <= 5 s: {verdict})"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--services", type=int, default=150, help="services per gemeente")
    a = p.parse_args()
    for kind in ["sqlite", "postgres"] if a.db == "both" else [a.db]:
        run(kind, a.seconds, a.services)


if __name__ == "__main__":
    main()
