"""GET /api/me/plan for logged-in people, with 10,000 accounts in the database, beside /healthz.

Run: .venv/bin/python -m bench.plan_load [--db sqlite|postgres|both] [--seconds 15] [--connections 50]
Needs wrk (apt-get install -y wrk). Targets (issue 3): plan >= 40 % of healthz throughput, plan p95 <= 25 ms.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import secrets
from datetime import UTC, date, datetime, timedelta

from sqlmodel import Session

from backend import migrate
from backend.accounts.models import AuthSession, UserAccount
from backend.accounts.service import hash_secret
from backend.checklists.content import load_content
from backend.checklists.models import StepProgress, UserProfile
from backend.db import make_engine
from bench.common import database, row, server, settle, wrk

ACCOUNTS = 10_000
LOGGED_IN = 500  # distinct sessions the load cycles through


def seed(db_url: str) -> list[str]:
    """10,000 jongeren with a profile and some progress; returns session cookies for LOGGED_IN of them."""
    engine = make_engine(db_url)
    migrate.upgrade(engine)
    rnd = random.Random(42)
    steps = list(load_content().steps)
    gemeenten = ["GM0014", "GM0363", "GM0518", "GM0599", "GM0344", "GM0796"]
    pw = hash_secret("bench-password")  # one hash for all: seeding must not take an hour of argon2
    now = datetime.now(UTC)
    cookies = []
    with Session(engine) as s:
        users = [
            UserAccount(username=f"bench{i:05d}", password_hash=pw, recovery_code_hash=pw) for i in range(ACCOUNTS)
        ]
        s.add_all(users)
        s.flush()
        for u in users:
            born = date(2008, 1, 1) + timedelta(days=rnd.randrange(0, 5 * 365))
            leaving = born + timedelta(days=18 * 365 + rnd.randrange(-200, 400)) if rnd.random() < 0.6 else None
            s.add(
                UserProfile(
                    user_id=u.id,
                    birth_date=born,
                    gemeente_code=rnd.choice(gemeenten),
                    vertrekdatum=leaving,
                    situation="instelling" if leaving else "thuis",
                )
            )
            for step in rnd.sample(steps, rnd.randrange(0, 8)):
                s.add(
                    StepProgress(
                        user_id=u.id,
                        step_id=step,
                        state=rnd.choice(["done", "done", "not_for_me"]),
                        client_updated_at=now,
                        client_id=secrets.token_hex(8),
                    )
                )
        for u in rnd.sample(users, LOGGED_IN):
            token = secrets.token_urlsafe(32)
            s.add(
                AuthSession(
                    token_hash=hashlib.sha256(token.encode()).hexdigest(),
                    user_id=u.id,
                    csrf_token="x",
                    expires_at=now + timedelta(days=1),
                )
            )
            cookies.append(f"sk_session={token}")
        s.commit()
    settle(engine)  # no autovacuum or checkpoint in the middle of the measurement
    engine.dispose()
    return cookies


def run(kind: str, seconds: int, connections: int) -> None:
    with database(kind) as url:
        cookies = seed(url)
        with server(url, workers=2) as (base, _):
            wrk(base, "/api/me/plan", 10, 3, cookies)  # warm-up: caches, connection pools
            health = wrk(base, "/healthz", connections, seconds)
            plan = wrk(base, "/api/me/plan", connections, seconds, cookies)
    print(f"\n[{kind}] {ACCOUNTS} accounts, {connections} connections, {seconds} s each, 2 API processes")
    print(row("GET /healthz", health))
    print(row("GET /api/me/plan", plan))
    ratio = plan.rps / health.rps if health.rps else 0
    verdict = "OK" if ratio >= 0.40 and plan.p95_ms <= 25 else "BELOW TARGET"
    print(
        f"plan/healthz throughput ratio: {ratio:.0%} (target >= 40 %), plan p95 {plan.p95_ms:.1f} ms "
        f"(target <= 25 ms): {verdict}"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--seconds", type=int, default=15)
    p.add_argument("--connections", type=int, default=50)
    a = p.parse_args()
    for kind in ["sqlite", "postgres"] if a.db == "both" else [a.db]:
        run(kind, a.seconds, a.connections)


if __name__ == "__main__":
    main()
