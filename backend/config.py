"""Settings, read from the environment (prefix STARTKLAAR_) or a .env file."""

from __future__ import annotations

import ipaddress
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent

# Values that people copy from examples; production refuses them.
PLACEHOLDER_SECRETS = {"", "changethis", "change-me", "changeme", "secret", "geheim", "xxx", "todo"}
MIN_SECRET_LENGTH = 32


class ConfigError(RuntimeError):
    """The configuration cannot be used; the message says what to change."""


class OidcProvider(BaseModel):
    """An organisation's OpenID Connect provider through which professionals (mentors) log in."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")  # in the login and callback URLs
    label: str = Field(min_length=1, max_length=80)  # the button text, e.g. "Inloggen met Mijn Organisatie"
    # Exactly as the provider writes it in "iss"; discovery is {issuer}/.well-known/openid-configuration.
    issuer: str = Field(max_length=255)
    client_id: str = Field(min_length=1)
    client_secret: str = Field(default="", repr=False)
    scopes: str = "openid profile"

    @field_validator("issuer")
    @classmethod
    def _check_issuer(cls, value: str) -> str:
        parts = urlsplit(value)
        local = parts.scheme == "http" and parts.hostname in ("localhost", "127.0.0.1", "::1")
        if not parts.hostname or not (parts.scheme == "https" or local):
            raise ValueError("issuer moet een https://-adres zijn (http alleen voor localhost).")
        return value

    @field_validator("scopes")
    @classmethod
    def _check_scopes(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError('scopes moet "openid" bevatten.')
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STARTKLAAR_", env_file=".env", extra="ignore")

    env: Literal["development", "production", "test"] = "development"
    data_dir: Path = ROOT / "data"
    database_url: str = ""
    secret_key: str = ""
    # The public address people use; cookies are Secure unless this is plain http on localhost.
    base_url: str = "http://localhost:8000"
    host: str = "127.0.0.1"
    port: int = 8000
    # Load balancers / reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: a
    # comma-separated list of addresses or networks (e.g. "10.0.0.5" or "10.0.0.0/24"). Empty (the default):
    # no proxy is trusted and the peer's own address is the client address, so nobody can pick their own IP
    # and slip past the per-address limits.
    trusted_proxies: str = ""
    # Run the reminder worker inside the API process (single-machine default).
    embedded_worker: bool = True
    frontend_dir: Path = ROOT / "frontend"
    log_level: str = "info"
    # The API documentation at /docs and /openapi.json; default: on, except in production.
    api_docs: bool | None = None
    # Threads per API process for sync routes (database work).
    threadpool_size: int = 8
    # API requests in progress per process; 0: derived from the database pool (backend/limits.py).
    max_in_flight: int = 0
    # Serialized plans kept per API process (about 9 KB each); 0 turns the cache off.
    plan_cache_size: int = 4096
    # Web Push (VAPID). Without a private key, a key pair is made on first run and kept in the data
    # directory; several machines must share one pair, so set it there (`startklaar vapid generate`).
    vapid_private_key: str = ""  # base64url of the raw 32-byte P-256 private key
    vapid_public_key: str = ""  # optional; must belong to the private key
    vapid_subject: str = ""  # mailto:... or https://...; default: base_url when https, else mailto:beheer@localhost
    # Reminder worker: pushes in flight, reminders per claim, how long a claim holds, idle poll interval.
    # Pushes in flight hide the push services' latency; past ~32 per worker the CPU cost per push rises
    # (bench/push_throughput.py).
    push_concurrency: int = 32
    worker_batch_size: int = 100
    worker_lease_seconds: int = 120
    worker_poll_seconds: float = 5.0
    # OpenID Connect login for professionals: a JSON list of providers, e.g.
    # [{"name": "jeugdzorg-west", "label": "Inloggen met Jeugdzorg West", "issuer": "https://login.example.nl",
    #   "client_id": "startklaar", "client_secret": "..."}]. The redirect URI to register at the provider is
    # {base_url}/api/auth/oidc/{name}/callback.
    oidc_providers: list[OidcProvider] = []

    @field_validator("database_url")
    @classmethod
    def _normalise_db_url(cls, value: str) -> str:
        # Accept the URL forms people paste from hosting providers.
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",") if item.strip()]
        for item in items:
            if item == "*":
                raise ValueError(
                    "STARTKLAAR_TRUSTED_PROXIES=* zou iedereen zijn eigen IP-adres laten kiezen. Noem het adres of "
                    "netwerk van je load balancer."
                )
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError as exc:
                raise ValueError(f"STARTKLAAR_TRUSTED_PROXIES: {item!r} is geen IP-adres of netwerk.") from exc
        return ",".join(items)

    @field_validator("vapid_subject")
    @classmethod
    def _check_vapid_subject(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("mailto:", "https://")):
            raise ValueError("STARTKLAAR_VAPID_SUBJECT moet met mailto: of https:// beginnen.")
        return value

    @field_validator("oidc_providers")
    @classmethod
    def _unique_provider_names(cls, value: list[OidcProvider]) -> list[OidcProvider]:
        names = [p.name for p in value]
        if len(names) != len(set(names)):
            raise ValueError("STARTKLAAR_OIDC_PROVIDERS: elke aanbieder heeft een eigen name nodig.")
        return value

    @cached_property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'startklaar.db').resolve()}"

    @property
    def docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def secure_cookies(self) -> bool:
        return not self.base_url.startswith(("http://localhost", "http://127.0.0.1"))

    def prepare(self) -> Settings:
        """Check the settings and fill in what development may generate; call once at start-up."""
        if self.db_url.startswith("sqlite"):
            self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.is_production:
            if self.secret_key.strip().lower() in PLACEHOLDER_SECRETS or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ConfigError(
                    "STARTKLAAR_SECRET_KEY ontbreekt of is een voorbeeldwaarde. Zet in productie een geheime "
                    f"sleutel van minstens {MIN_SECRET_LENGTH} tekens, bijvoorbeeld de uitvoer van: "
                    "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            if not self.base_url.startswith("https://"):
                raise ConfigError(
                    "STARTKLAAR_BASE_URL moet in productie met https:// beginnen: service workers en "
                    "pushberichten werken alleen via HTTPS."
                )
            for provider in self.oidc_providers:
                if not provider.issuer.startswith("https://"):
                    raise ConfigError(
                        f"STARTKLAAR_OIDC_PROVIDERS: de issuer van {provider.name!r} moet in productie met "
                        "https:// beginnen."
                    )
        elif not self.secret_key:
            self.secret_key = _development_secret(self.data_dir)
        return self


def _development_secret(data_dir: Path) -> str:
    """A per-installation secret kept in the data directory, made on first run."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    return value
