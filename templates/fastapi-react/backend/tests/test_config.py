import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import ConfigError, load_settings

GOOD = {
    "BASE_PATH": "/apps/demo",
    "PUBLIC_URL": "https://mgx.example/apps/demo/",
    "MGX_OAUTH_ISSUER": "https://mgx.example/oauth2",
    "MGX_OAUTH_CLIENT_ID": "app-demo",
    "MGX_OAUTH_CLIENT_SECRET": "s",
    "MONGODB_URL": "mongodb://db:27017",
    "MONGODB_DB": "demo",
}


def test_accepts_a_complete_environment():
    s = load_settings(GOOD)
    assert s.public_url == "https://mgx.example/apps/demo"
    assert s.cookie_path == "/apps/demo"
    assert s.secure_cookies
    assert s.redirect_uri == "https://mgx.example/apps/demo/api/auth/callback"


@pytest.mark.parametrize(
    ("name", "change", "want"),
    [
        ("missing MONGODB_URL", {"MONGODB_URL": ""}, "MONGODB_URL is not set"),
        ("blank secret", {"MGX_OAUTH_CLIENT_SECRET": "  "}, "MGX_OAUTH_CLIENT_SECRET is not set"),
        ("bad issuer", {"MGX_OAUTH_ISSUER": "mgx"}, "MGX_OAUTH_ISSUER is not an http(s) URL"),
        ("bad mongo url", {"MONGODB_URL": "postgres://x"}, "MONGODB_URL must start"),
        ("bad db name", {"MONGODB_DB": "a/b"}, "MONGODB_DB is not a valid"),
        ("base path with trailing slash", {"BASE_PATH": "/apps/demo/"}, "BASE_PATH must start"),
        ("relative base path", {"BASE_PATH": "apps/demo"}, "BASE_PATH must start"),
        ("public url without base path", {"PUBLIC_URL": "https://mgx.example/"}, "PUBLIC_URL must end with BASE_PATH"),
    ],
)
def test_refuses_bad_environment_with_one_line(name, change, want):
    with pytest.raises(ConfigError) as err:
        load_settings({**GOOD, **change})
    assert want in str(err.value)
    assert "\n" not in str(err.value)


def test_names_every_missing_variable_at_once():
    want = r"PUBLIC_URL is not set; MGX_OAUTH_ISSUER is not set;.*MONGODB_DB is not set"
    with pytest.raises(ConfigError, match=want):
        load_settings({})


def test_server_start_fails_with_one_line_naming_the_variable():
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update({**GOOD, "MONGODB_DB": ""})
    res = subprocess.run(
        [sys.executable, "-c", "import app.main"],
        cwd=Path(__file__).resolve().parent.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 2
    assert res.stderr.strip() == "config: MONGODB_DB is not set"
