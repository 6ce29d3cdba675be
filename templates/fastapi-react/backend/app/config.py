"""Settings the app reads from its environment (MGX "Apps under a subpath")."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

APP_NAME = "__MGX_APP_NAME__"
APP_SLUG = "__MGX_APP_SLUG__"

REQUIRED = (
    "PUBLIC_URL",
    "MGX_OAUTH_ISSUER",
    "MGX_OAUTH_CLIENT_ID",
    "MGX_OAUTH_CLIENT_SECRET",
    "MONGODB_URL",
    "MONGODB_DB",
)


class ConfigError(Exception):
    """A bad environment; the message is one line naming every bad variable."""


@dataclass(frozen=True)
class Settings:
    public_url: str
    """PUBLIC_URL: the app's public address including BASE_PATH, no trailing slash."""
    base_path: str
    """BASE_PATH: "/apps/<slug>", "/dev/<slug>" or "" at the root."""
    oauth_issuer: str
    oauth_client_id: str
    oauth_client_secret: str
    mongodb_url: str
    mongodb_db: str
    oauth_scopes: str = "openid profile email offline_access"
    """OAUTH_SCOPES (optional)."""
    otel_endpoint: str = ""
    """OTEL_EXPORTER_OTLP_ENDPOINT (optional): telemetry is off without it."""
    otel_service_name: str = APP_SLUG

    @property
    def redirect_uri(self) -> str:
        return f"{self.public_url}/api/auth/callback"

    @property
    def cookie_path(self) -> str:
        return self.base_path or "/"

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https:")


def _is_http_url(value: str) -> bool:
    u = urlparse(value)
    return u.scheme in ("http", "https") and bool(u.netloc)


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Validate env and report every problem at once (ConfigError)."""
    env = os.environ if env is None else env

    def get(name: str) -> str:
        return env.get(name, "").strip()

    problems = [f"{name} is not set" for name in REQUIRED if not get(name)]
    base_path = get("BASE_PATH")
    if base_path == "/":
        base_path = ""
    if base_path and (not re.fullmatch(r"/[A-Za-z0-9._~\-/]*[A-Za-z0-9._~-]", base_path) or "//" in base_path):
        problems.append(f'BASE_PATH must start with "/" and not end with "/" (got {base_path!r})')
    public_url = get("PUBLIC_URL").rstrip("/")
    if public_url and not _is_http_url(public_url):
        problems.append("PUBLIC_URL is not an http(s) URL")
    elif public_url and base_path and not urlparse(public_url).path.endswith(base_path):
        problems.append(f"PUBLIC_URL must end with BASE_PATH {base_path}")
    issuer = get("MGX_OAUTH_ISSUER").rstrip("/")
    if issuer and not _is_http_url(issuer):
        problems.append("MGX_OAUTH_ISSUER is not an http(s) URL")
    mongodb_url = get("MONGODB_URL")
    if mongodb_url and not re.match(r"mongodb(\+srv)?://", mongodb_url):
        problems.append("MONGODB_URL must start with mongodb:// or mongodb+srv://")
    db = get("MONGODB_DB")
    if db and not re.fullmatch(r'[^/\\. "$]{1,63}', db):
        problems.append("MONGODB_DB is not a valid database name")
    if problems:
        raise ConfigError("config: " + "; ".join(problems))
    return Settings(
        public_url=public_url,
        base_path=base_path,
        oauth_issuer=issuer,
        oauth_client_id=get("MGX_OAUTH_CLIENT_ID"),
        oauth_client_secret=get("MGX_OAUTH_CLIENT_SECRET"),
        mongodb_url=mongodb_url,
        mongodb_db=db,
        oauth_scopes=get("OAUTH_SCOPES") or "openid profile email offline_access",
        otel_endpoint=get("OTEL_EXPORTER_OTLP_ENDPOINT"),
        otel_service_name=get("OTEL_SERVICE_NAME") or APP_SLUG,
    )


def load_settings_or_exit() -> Settings:
    """For the server's start: a bad environment prints one line and exits with status 2."""
    try:
        return load_settings()
    except ConfigError as err:
        print(err, file=sys.stderr, flush=True)
        raise SystemExit(2) from None
