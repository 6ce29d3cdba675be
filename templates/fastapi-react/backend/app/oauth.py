"""Sign-in with MGX: an OAuth 2 / OIDC confidential client with PKCE (RFC 7636)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from app.config import Settings

TIMEOUT = httpx.Timeout(5.0)
DISCOVERY_TTL = 3600.0


class OAuthError(Exception):
    """A failed exchange with the provider; code is the OAuth error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def random_token(nbytes: int = 32) -> str:
    """base64url random value: states, PKCE verifiers, session ids."""
    return secrets.token_urlsafe(nbytes)


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Provider:
    """The endpoints from the provider's discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    revocation_endpoint: str | None = None
    auth_methods: list[str] = field(default_factory=list)


class OAuthClient:
    """Talks to MGX. http is injectable so tests can answer for the provider."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.http = http or httpx.Client(timeout=TIMEOUT)
        self._provider: Provider | None = None
        self._fetched_at = 0.0

    def provider(self) -> Provider:
        """Fetch $MGX_OAUTH_ISSUER/.well-known/openid-configuration (cached for an hour).

        The browser goes to authorization_endpoint as published; the server's own calls
        (token, userinfo, revocation) go to MGX_OAUTH_ISSUER's address, which may be an
        internal one (host.docker.internal) when the published one is the public URL.
        """
        if self._provider and time.monotonic() - self._fetched_at < DISCOVERY_TTL:
            return self._provider
        issuer = self.settings.oauth_issuer
        try:
            res = self.http.get(f"{issuer}/.well-known/openid-configuration")
        except httpx.HTTPError as err:
            raise OAuthError("discovery_failed", f"discovery failed: {err}") from err
        if res.status_code != 200:
            raise OAuthError("discovery_failed", f"discovery answered {res.status_code}")
        doc: dict[str, Any] = res.json()
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "userinfo_endpoint"):
            if not isinstance(doc.get(key), str) or not doc[key]:
                raise OAuthError("discovery_failed", f"discovery document has no {key}")
        published = doc["issuer"]

        def back_channel(url: str | None) -> str | None:
            if url and url.startswith(published):
                return issuer + url[len(published) :]
            return url

        self._provider = Provider(
            issuer=published,
            authorization_endpoint=doc["authorization_endpoint"],
            token_endpoint=back_channel(doc["token_endpoint"]) or "",
            userinfo_endpoint=back_channel(doc["userinfo_endpoint"]) or "",
            revocation_endpoint=back_channel(doc.get("revocation_endpoint")),
            auth_methods=list(doc.get("token_endpoint_auth_methods_supported") or []),
        )
        self._fetched_at = time.monotonic()
        return self._provider

    def authorize_url(self, state: str, verifier: str) -> str:
        s = self.settings
        query = urlencode(
            {
                "response_type": "code",
                "client_id": s.oauth_client_id,
                "redirect_uri": s.redirect_uri,
                "scope": s.oauth_scopes,
                "state": state,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
            }
        )
        endpoint = self.provider().authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{query}"

    def _token(self, data: dict[str, str]) -> dict[str, Any]:
        p = self.provider()
        s = self.settings
        auth: httpx.BasicAuth | None = None
        if p.auth_methods and "client_secret_basic" not in p.auth_methods and "client_secret_post" in p.auth_methods:
            data = {**data, "client_id": s.oauth_client_id, "client_secret": s.oauth_client_secret}
        else:
            auth = httpx.BasicAuth(s.oauth_client_id, s.oauth_client_secret)
        try:
            res = self.http.post(p.token_endpoint, data=data, auth=auth, headers={"accept": "application/json"})
        except httpx.HTTPError as err:
            raise OAuthError("token_failed", f"token request failed: {err}") from err
        try:
            body = res.json()
        except ValueError:
            body = {}
        if res.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise OAuthError(str(body.get("error") or "token_failed"), f"token endpoint answered {res.status_code}")
        return body

    def exchange_code(self, code: str, verifier: str) -> dict[str, Any]:
        return self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.settings.redirect_uri,
                "code_verifier": verifier,
            }
        )

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return self._token({"grant_type": "refresh_token", "refresh_token": refresh_token})

    def userinfo(self, access_token: str) -> dict[str, Any]:
        try:
            res = self.http.get(
                self.provider().userinfo_endpoint,
                headers={"authorization": f"Bearer {access_token}", "accept": "application/json"},
            )
            body = res.json()
        except (httpx.HTTPError, ValueError) as err:
            raise OAuthError("userinfo_failed", f"userinfo failed: {err}") from err
        if res.status_code != 200 or not isinstance(body.get("sub"), str) or not body["sub"]:
            raise OAuthError("userinfo_failed", f"userinfo answered {res.status_code}")
        return body

    def revoke(self, token: str, hint: str) -> None:
        """Tell the provider a token is no longer needed; failures are ignored."""
        try:
            p = self.provider()
            if p.revocation_endpoint:
                self.http.post(
                    p.revocation_endpoint,
                    data={"token": token, "token_type_hint": hint},
                    auth=httpx.BasicAuth(self.settings.oauth_client_id, self.settings.oauth_client_secret),
                )
        except (OAuthError, httpx.HTTPError):
            pass
