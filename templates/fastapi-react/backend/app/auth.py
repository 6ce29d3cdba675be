"""Server-side sign-in with MGX: routes /api/auth/*, /api/me and the current_user dependency.

The backend keeps the tokens (collection `sessions`); the browser gets only an opaque,
HttpOnly, SameSite=Lax cookie scoped to BASE_PATH. A login's state is single-use, bound to
the browser by a cookie and expires after ten minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pymongo.database import Database

from app.errors import ApiError, error_body
from app.oauth import OAuthClient, OAuthError, random_token
from app.users import User, to_user, upsert_user

log = logging.getLogger(__name__)

SESSION_COOKIE = "app_session"
STATE_COOKIE = "app_oauth_state"
SESSION_TTL = timedelta(days=30)
STATE_TTL = timedelta(minutes=10)
REFRESH_MARGIN = timedelta(seconds=60)

router = APIRouter(prefix="/api", tags=["auth"])


def _hash(value: str) -> str:
    # The database stores only the cookie's hash: a leaked database hands out no live cookies.
    return hashlib.sha256(value.encode()).hexdigest()


def _utc(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _expiry(tokens: dict[str, Any]) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=int(tokens.get("expires_in") or 300))


def get_db(request: Request) -> Database:
    return request.app.state.db


def get_oauth(request: Request) -> OAuthClient:
    return request.app.state.oauth


Db = Annotated[Database, Depends(get_db)]
OAuth = Annotated[OAuthClient, Depends(get_oauth)]


def _set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    s = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=s.cookie_path,
        httponly=True,
        secure=s.secure_cookies,
        samesite="lax",
    )


def _refresh(db: Database, oauth: OAuthClient, session: dict[str, Any]) -> bool:
    try:
        tokens = oauth.refresh(session["refresh_token"])
    except OAuthError as err:
        log.warning("token refresh failed; session ended (%s)", err.code)
        return False
    db.sessions.update_one(
        {"_id": session["_id"]},
        {
            "$set": {
                "access_token": tokens["access_token"],
                "refresh_token": tokens.get("refresh_token") or session["refresh_token"],
                "access_expires_at": _expiry(tokens),
            }
        },
    )
    return True


def optional_user(request: Request, db: Db, oauth: OAuth) -> User | None:
    """The signed-in user, or None. An access token close to expiry is refreshed (MGX rotates
    the refresh token); a refused refresh ends the session."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = db.sessions.find_one({"_id": _hash(token)})
    now = datetime.now(UTC)
    if not session or _utc(session["expires_at"]) < now:
        return None
    expiring = _utc(session["access_expires_at"]) - now < REFRESH_MARGIN
    if expiring and (not session.get("refresh_token") or not _refresh(db, oauth, session)):
        db.sessions.delete_one({"_id": session["_id"]})
        return None
    doc = db.users.find_one({"_id": session["user_id"]})
    return to_user(doc) if doc else None


def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """Dependency of every protected route: the signed-in user, or 401."""
    if user is None:
        raise ApiError(401, "unauthorized", "sign in first")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


@router.get("/auth/login", summary="Send the browser to MGX's sign-in page")
def login(request: Request, db: Db, oauth: OAuth) -> Response:
    state = random_token()
    verifier = random_token(48)
    try:
        url = oauth.authorize_url(state, verifier)
    except OAuthError as err:
        log.error("login failed: %s", err)
        return JSONResponse(
            error_body("provider_unavailable", "the sign-in provider cannot be reached; try again"), status_code=502
        )
    db.auth_states.insert_one({"_id": state, "verifier": verifier, "created_at": datetime.now(UTC)})
    response = RedirectResponse(url, status_code=302)
    _set_cookie(request, response, STATE_COOKIE, state, int(STATE_TTL.total_seconds()))
    return response


@router.get("/auth/callback", summary="MGX returns here after sign-in")
def callback(
    request: Request,
    db: Db,
    oauth: OAuth,
    state: str | None = None,
    code: str | None = None,
    error: str | None = None,
) -> Response:
    cookie = request.cookies.get(STATE_COOKIE)
    if not state or not cookie or not hmac.compare_digest(state.encode(), cookie.encode()):
        raise ApiError(400, "invalid_state", "this sign-in link is invalid or expired; start again")
    pending = db.auth_states.find_one_and_delete({"_id": state})
    if not pending or datetime.now(UTC) - _utc(pending["created_at"]) > STATE_TTL:
        raise ApiError(400, "invalid_state", "this sign-in link is invalid or expired; start again")
    if error or not code:
        raise ApiError(400, "access_denied", f"sign-in did not complete: {error or 'no code'}")
    try:
        tokens = oauth.exchange_code(code, pending["verifier"])
        info = oauth.userinfo(tokens["access_token"])
    except OAuthError as err:
        log.error("sign-in callback failed: %s", err)
        raise ApiError(502, "sign_in_failed", "sign-in could not be completed; start again") from err
    user = upsert_user(db, info)
    session_id = random_token()
    now = datetime.now(UTC)
    db.sessions.insert_one(
        {
            "_id": _hash(session_id),
            "user_id": user["_id"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens.get("refresh_token"),
            "access_expires_at": _expiry(tokens),
            "created_at": now,
            "expires_at": now + SESSION_TTL,
        }
    )
    log.info("user signed in", extra={"user_id": str(user["_id"])})
    settings = request.app.state.settings
    response = RedirectResponse(f"{settings.public_url}/", status_code=302)
    _set_cookie(request, response, SESSION_COOKIE, session_id, int(SESSION_TTL.total_seconds()))
    _set_cookie(request, response, STATE_COOKIE, "", 0)
    return response


@router.post("/auth/logout", summary="End the session and revoke its refresh token")
def logout(request: Request, response: Response, db: Db, oauth: OAuth) -> dict:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session = db.sessions.find_one_and_delete({"_id": _hash(token)})
        if session and session.get("refresh_token"):
            oauth.revoke(session["refresh_token"], "refresh_token")
    _set_cookie(request, response, SESSION_COOKIE, "", 0)
    return {"signed_out": True}


@router.get("/me", summary="The signed-in user")
def me(user: CurrentUser) -> User:
    return user
