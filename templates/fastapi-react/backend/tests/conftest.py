"""Fixtures: the app on a mongomock database and a fake MGX behind httpx.MockTransport.

No MongoDB server or MGX is needed. Requests use the browser's path (/apps/demo/api/...);
root_path lets the app route them just as it routes the gateway's stripped ones.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import mongomock
import pytest
from bson import ObjectId
from fastapi.testclient import TestClient

# Set before anything imports app.main (which reads the environment at import).
os.environ.update(
    {
        "BASE_PATH": "/apps/demo",
        "PUBLIC_URL": "http://mgx.test/apps/demo",
        "MGX_OAUTH_ISSUER": "http://mgx.test/oauth2",
        "MGX_OAUTH_CLIENT_ID": "app-demo",
        "MGX_OAUTH_CLIENT_SECRET": "client-secret",
        "MONGODB_URL": "mongodb://db.invalid:27017",
        "MONGODB_DB": "demo",
    }
)

from app.auth import SESSION_COOKIE
from app.config import Settings, load_settings
from app.factory import create_app
from app.oauth import OAuthClient

BASE = "/apps/demo"
PUBLISHED = "http://public.mgx.test/oauth2"


@dataclass
class FakeProvider:
    """MGX's OAuth endpoints. token_response decides each token endpoint answer."""

    token: list[dict[str, str]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)
    revoked: list[dict[str, str]] = field(default_factory=list)
    userinfo: dict[str, str] = field(
        default_factory=lambda: {"sub": "user-1", "email": "ada@example.com", "name": "Ada"}
    )
    token_response: Callable[[dict[str, str]], tuple[int, dict[str, Any]]] | None = None
    down: bool = False
    count: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        url = str(request.url)
        if url == "http://mgx.test/oauth2/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": PUBLISHED,
                    "authorization_endpoint": f"{PUBLISHED}/authorize",
                    "token_endpoint": f"{PUBLISHED}/token",
                    "userinfo_endpoint": f"{PUBLISHED}/userinfo",
                    "revocation_endpoint": f"{PUBLISHED}/revoke",
                },
            )
        # Back-channel calls must go to MGX_OAUTH_ISSUER's address, not the published one.
        if url == "http://mgx.test/oauth2/token":
            form = dict(httpx.QueryParams(request.content.decode()))
            self.token.append(form)
            self.auth.append(request.headers.get("authorization", ""))
            if self.token_response:
                status, body = self.token_response(form)
            else:
                self.count += 1
                status, body = (
                    200,
                    {
                        "access_token": f"at-{form['grant_type']}",
                        "refresh_token": f"rt-{self.count}",
                        "expires_in": 900,
                        "token_type": "Bearer",
                    },
                )
            return httpx.Response(status, json=body)
        if url == "http://mgx.test/oauth2/userinfo":
            return httpx.Response(200, json=self.userinfo)
        if url == "http://mgx.test/oauth2/revoke":
            self.revoked.append(dict(httpx.QueryParams(request.content.decode())))
            return httpx.Response(200)
        return httpx.Response(404)


@pytest.fixture
def settings() -> Settings:
    return load_settings()


@pytest.fixture
def db():
    return mongomock.MongoClient(tz_aware=True)["demo"]


@pytest.fixture
def provider() -> FakeProvider:
    return FakeProvider()


@pytest.fixture
def client(settings, db, provider) -> TestClient:
    oauth = OAuthClient(settings, httpx.Client(transport=httpx.MockTransport(provider.handle)))
    app = create_app(settings, db=db, oauth=oauth)
    with TestClient(app, base_url="http://mgx.test", follow_redirects=False) as c:
        yield c


@pytest.fixture
def session_for(db) -> Callable[[str], dict[str, str]]:
    """Insert a signed-in user directly; returns the cookies to send."""

    def make(sub: str) -> dict[str, str]:
        user_id = ObjectId()
        db.users.insert_one({"_id": user_id, "sub": sub, "email": f"{sub}@x", "name": sub})
        token = f"tok-{sub}"
        now = datetime.now(UTC)
        db.sessions.insert_one(
            {
                "_id": hashlib.sha256(token.encode()).hexdigest(),
                "user_id": user_id,
                "access_token": "at",
                "access_expires_at": now + timedelta(hours=1),
                "created_at": now,
                "expires_at": now + timedelta(hours=1),
            }
        )
        return {SESSION_COOKIE: token}

    return make
