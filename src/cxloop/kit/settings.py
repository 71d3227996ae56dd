"""Configuration from the environment (``CXLOOP_*``), with embedded defaults.

With nothing set, cxloop runs on one SQLite file under ``./cxloop-data`` with
its job worker in-process; production points ``CXLOOP_DATABASE_URL`` at
PostgreSQL and ``CXLOOP_REDIS_URL`` at Redis.
"""

from __future__ import annotations

import functools
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SUPPORTED_LOCALES = ("zh-CN", "en")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CXLOOP_", extra="ignore")

    data_dir: Path = Path("cxloop-data")
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str | None = None
    # "auto" marks cookies Secure when the request arrived over TLS (directly
    # or, behind a trusted proxy, per X-Forwarded-Proto).
    cookie_secure: Literal["auto", "always", "never"] = "auto"
    session_hours: int = Field(default=12, ge=1, le=24 * 30)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    default_locale: Literal["zh-CN", "en"] = "zh-CN"
    default_timezone: str = "Asia/Shanghai"
    # Jobs run in the web process unless a real broker is configured; this
    # forces either way (e.g. off for web processes behind a Redis broker).
    embedded_worker: bool | None = None
    # Jobs run inline right after commit (tests, one-shot CLI commands).
    jobs_immediate: bool = False
    login_max_failures: int = Field(default=5, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    assets_dir: Path | None = None
    sql_echo: bool = False
    # --- text ---
    # Trained text models and jieba's cache (default: <data_dir>/text-models).
    text_model_dir: Path | None = None
    # "process": models live in one child process per host process, so a web
    # process's memory does not grow; "inline": in the calling process (CLI, tests).
    text_engine: Literal["process", "inline"] = "process"

    # --- analytics ---
    # Anonymity threshold: metric groups with fewer responses are suppressed
    # (a tenant may raise or lower it: PUT /api/v1/metrics/settings).
    analytics_min_n: int = Field(default=5, ge=1, le=1000)

    # --- distribution ---
    # The address people reach cxloop at: invitation links are built on it.
    public_url: str = "http://localhost:8000"
    # Default SMTP server for tenants without their own email channel settings.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "cxloop <no-reply@localhost>"
    # A send that the provider refuses with a transient fault is tried this often.
    delivery_max_attempts: int = Field(default=5, ge=1, le=20)
    provider_timeout_seconds: float = Field(default=10.0, gt=0)

    # --- alerts ---
    # Webhooks to loopback, private and link-local addresses are refused (SSRF);
    # true allows them, for receivers inside the operator's own network and tests.
    webhook_private_targets: bool = False

    # --- customers ---
    # Keys for personal fields, "k2:<base64 32 bytes>,k1:<base64>": the first
    # encrypts, every one decrypts (rotation: put the new key first, then run
    # `cxloop contacts reencrypt`). Unset: one key generated in the data dir.
    field_keys: str | None = None
    # The blind-index (lookup hash) key, base64; unset: derived from the secret key.
    blind_index_key: str | None = None

    # --- dashboards ---
    # The SMTP server for scheduled reports; unset: the general smtp_* settings.
    report_smtp_host: str | None = None
    report_smtp_port: int | None = Field(default=None, ge=1, le=65535)
    report_mail_from: str | None = None

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("CXLOOP_DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cxloop.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def runs_embedded_worker(self) -> bool:
        if self.embedded_worker is not None:
            return self.embedded_worker
        return self.redis_url is None

    def effective_secret_key(self) -> str:
        """The configured key, or one generated once and kept in the data dir.

        Embedded installs get a stable key without configuration; several web
        processes on one machine share it through the file. Production sets
        CXLOOP_SECRET_KEY so that every host agrees.
        """
        if self.secret_key:
            return self.secret_key
        key_file = self.data_dir / "secret.key"
        if key_file.exists():
            return key_file.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        candidate = secrets.token_urlsafe(48)
        try:
            with key_file.open("x") as handle:
                handle.write(candidate)
            key_file.chmod(0o600)
        except FileExistsError:
            pass
        return key_file.read_text().strip()


@functools.cache
def get_settings() -> Settings:
    return Settings()
