from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from app.auth import SESSION_COOKIE, STATE_COOKIE
from app.oauth import pkce_challenge

BASE = "/apps/demo"


def start_login(client) -> str:
    res = client.get(f"{BASE}/api/auth/login")
    assert res.status_code == 302
    return parse_qs(urlparse(res.headers["location"]).query)["state"][0]


def sign_in(client) -> None:
    state = start_login(client)
    res = client.get(f"{BASE}/api/auth/callback", params={"code": "the-code", "state": state})
    assert res.status_code == 302, res.text
    assert res.headers["location"] == "http://mgx.test/apps/demo/"


def test_pkce_challenge_matches_rfc_7636():
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert pkce_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_login_redirects_with_pkce_and_a_state_cookie_scoped_to_the_base_path(client, db):
    res = client.get(f"{BASE}/api/auth/login")
    assert res.status_code == 302
    url = urlparse(res.headers["location"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://public.mgx.test/oauth2/authorize"
    q = parse_qs(url.query)
    assert q["code_challenge_method"] == ["S256"]
    assert q["client_id"] == ["app-demo"]
    assert q["redirect_uri"] == ["http://mgx.test/apps/demo/api/auth/callback"]
    cookie = res.headers["set-cookie"]
    assert cookie.startswith(f"{STATE_COOKIE}={q['state'][0]};")
    assert "Path=/apps/demo" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    stored = db.auth_states.find_one({"_id": q["state"][0]})
    assert pkce_challenge(stored["verifier"]) == q["code_challenge"][0]


def test_login_answers_502_when_the_provider_is_down(client, provider):
    provider.down = True
    res = client.get(f"{BASE}/api/auth/login")
    assert res.status_code == 502
    assert res.json()["error"]["code"] == "provider_unavailable"


@pytest.mark.parametrize(
    ("name", "params", "cookie"),
    [
        ("no state", {"code": "c"}, None),
        ("state without cookie", {"code": "c", "state": "S"}, None),
        ("state not matching cookie", {"code": "c", "state": "S"}, "OTHER"),
        ("unknown state", {"code": "c", "state": "S"}, "S"),
    ],
)
def test_callback_refuses_bad_state(client, provider, name, params, cookie):
    if cookie:
        client.cookies.set(STATE_COOKIE, cookie)
    res = client.get(f"{BASE}/api/auth/callback", params=params)
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "invalid_state"
    assert provider.token == []


def test_callback_refuses_an_expired_state(client, db, provider):
    state = start_login(client)
    db.auth_states.update_one({"_id": state}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=11)}})
    res = client.get(f"{BASE}/api/auth/callback", params={"code": "c", "state": state})
    assert res.status_code == 400
    assert provider.token == []


def test_callback_cannot_be_replayed(client):
    state = start_login(client)
    assert client.get(f"{BASE}/api/auth/callback", params={"code": "c", "state": state}).status_code == 302
    client.cookies.set(STATE_COOKIE, state)
    assert client.get(f"{BASE}/api/auth/callback", params={"code": "c", "state": state}).status_code == 400


def test_full_sign_in(client, db, provider):
    sign_in(client)
    form = provider.token[0]
    assert form["grant_type"] == "authorization_code"
    assert form["code"] == "the-code"
    assert form["redirect_uri"] == "http://mgx.test/apps/demo/api/auth/callback"
    assert form["code_verifier"]
    assert provider.auth[0].startswith("Basic ")
    users = list(db.users.find())
    assert len(users) == 1
    assert users[0]["sub"] == "user-1" and users[0]["email"] == "ada@example.com"

    me = client.get(f"{BASE}/api/me")
    assert me.status_code == 200
    assert me.json()["name"] == "Ada"
    # The cookie is opaque and the database stores only its hash.
    token = client.cookies.get(SESSION_COOKIE)
    assert "at-" not in token
    assert db.sessions.find_one({"_id": token}) is None

    sign_in(client)
    assert db.users.count_documents({}) == 1


def test_me_is_401_without_a_session(client):
    res = client.get(f"{BASE}/api/me")
    assert res.status_code == 401
    assert res.json() == {"error": {"code": "unauthorized", "message": "sign in first"}}
    client.cookies.set(SESSION_COOKIE, "forged")
    assert client.get(f"{BASE}/api/me").status_code == 401


def test_refreshes_an_expiring_access_token(client, db, provider):
    sign_in(client)
    session = db.sessions.find_one()
    db.sessions.update_one({"_id": session["_id"]}, {"$set": {"access_expires_at": datetime.now(UTC)}})
    assert client.get(f"{BASE}/api/me").status_code == 200
    assert provider.token[1]["grant_type"] == "refresh_token"
    assert provider.token[1]["refresh_token"] == session["refresh_token"]
    after = db.sessions.find_one()
    assert after["refresh_token"] != session["refresh_token"]
    assert after["access_token"] == "at-refresh_token"


def test_ends_the_session_when_the_refresh_is_refused(client, db, provider):
    provider.token_response = lambda form: (
        (400, {"error": "invalid_grant"})
        if form["grant_type"] == "refresh_token"
        else (200, {"access_token": "at", "refresh_token": "rt", "expires_in": 900})
    )
    sign_in(client)
    db.sessions.update_many({}, {"$set": {"access_expires_at": datetime(2000, 1, 1, tzinfo=UTC)}})
    assert client.get(f"{BASE}/api/me").status_code == 401
    assert db.sessions.count_documents({}) == 0


def test_logout(client, db, provider):
    sign_in(client)
    res = client.post(f"{BASE}/api/auth/logout")
    assert res.status_code == 200
    assert f"{SESSION_COOKIE}=" in res.headers["set-cookie"] and "Max-Age=0" in res.headers["set-cookie"]
    assert db.sessions.count_documents({}) == 0
    assert provider.revoked[0]["token_type_hint"] == "refresh_token"
    assert client.get(f"{BASE}/api/me").status_code == 401
