"""A local stand-in for Firebase Cloud Messaging HTTP v1 and Google's OAuth2 token endpoint.

Speaks the documented wire formats:

- ``POST /token``: the service-account JWT-bearer grant
  (https://developers.google.com/identity/protocols/oauth2/service-account#httprest):
  form ``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<RS256 JWT>``;
  the JWT's signature, issuer, audience (always Google's endpoint) and scope are checked; the answer is
  ``{"access_token", "expires_in": 3600, "token_type": "Bearer"}``, errors are RFC 6749 §5.2
  ``{"error": "invalid_grant", "error_description"}``.
- ``POST /v1/projects/{project}/messages:send`` with ``Authorization: Bearer <access token>``
  (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send): answers
  ``{"name": "projects/<p>/messages/<id>"}``, or FCM's error JSON
  (https://firebase.google.com/docs/cloud-messaging/error-codes):
  ``{"error": {"code", "message", "status", "details": [{"@type": ".../FcmError", "errorCode"}]}}``;
  a token marked with :meth:`FakeFcm.unregister` answers 404 ``UNREGISTERED``.

Usage::

    async with FakeFcm("bogor-app") as fcm:
        credentials = fcm.write_service_account(tmp_path / "sa.json")
        settings = Settings(fcm_project_id="bogor-app", fcm_credentials_file=str(credentials),
                            fcm_api_base=fcm.url, ...)
        fcm.unregister("dead-token")
        fcm.fail_next(503, "UNAVAILABLE")
        ...
        fcm.sent[0]["message"]["token"]
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import google.auth.exceptions
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.support.local_http import serve_on_loopback

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# The assertion's "aud" is always Google's endpoint, wherever the request is sent
# ("When making an access token request this value is always https://oauth2.googleapis.com/token").
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# Canonical status of each HTTP code FCM uses (https://cloud.google.com/apis/design/errors#handling_errors).
CANONICAL = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class _Canned:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def fcm_error_body(status: int, error_code: str | None, message: str) -> dict[str, Any]:
    """FCM's error JSON (with an ``FcmError`` detail when ``error_code`` is given)."""
    error: dict[str, Any] = {"code": status, "message": message, "status": CANONICAL.get(status, "UNKNOWN")}
    if error_code:
        error["details"] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    return {"error": error}


@dataclass
class FakeFcm:
    """Records everything: :attr:`requests` (sends), :attr:`token_grants` (decoded JWT claims),
    :attr:`sent` (messages FCM accepted)."""

    project_id: str
    requests: list[RecordedRequest] = field(default_factory=list)
    token_grants: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    unregistered: set[str] = field(default_factory=set)
    url: str = ""
    """Base URL for FCM_API_BASE (``http://127.0.0.1:<port>``)."""
    _issued: set[str] = field(default_factory=set)
    _canned: list[_Canned] = field(default_factory=list)
    _token_canned: list[_Canned] = field(default_factory=list)
    _public_key: bytes | None = None
    _client_email: str | None = None
    _runner: web.AppRunner | None = None

    @property
    def token_uri(self) -> str:
        """The OAuth2 token endpoint to put in the service-account JSON."""
        return f"{self.url}/token"

    def write_service_account(self, path: Path) -> Path:
        """Write a service-account JSON with a fresh RSA key whose ``token_uri`` is this fake.

        The fake keeps the public key and verifies every JWT assertion against it.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self._public_key = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._client_email = f"fcm-sender@{self.project_id}.iam.gserviceaccount.com"
        info = {
            "type": "service_account",
            "project_id": self.project_id,
            "private_key_id": uuid.uuid4().hex,
            "private_key": pem,
            "client_email": self._client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
        }
        path.write_text(json.dumps(info), encoding="utf-8")
        return path

    def unregister(self, token: str) -> None:
        """Make sends to ``token`` answer 404 ``UNREGISTERED`` (the app was uninstalled)."""
        self.unregistered.add(token)

    def revoke_access_tokens(self) -> None:
        """Forget every access token issued so far (their next use answers 401)."""
        self._issued.clear()

    def fail_next(
        self, status: int, error_code: str | None, message: str = "error", *, headers: dict[str, str] | None = None
    ) -> None:
        """Answer the next send with FCM's error JSON (after recording it)."""
        body = json.dumps(fcm_error_body(status, error_code, message)).encode()
        self._canned.append(_Canned(status, body, headers or {}))

    def respond_next(self, status: int, body: bytes) -> None:
        """Answer the next send with these exact bytes (e.g. a fixture file)."""
        self._canned.append(_Canned(status, body))

    def token_fail_next(self, status: int, error: str, description: str = "") -> None:
        """Answer the next token request with an RFC 6749 error."""
        body = json.dumps({"error": error, "error_description": description}).encode()
        self._token_canned.append(_Canned(status, body))

    async def __aenter__(self) -> FakeFcm:
        app = web.Application()
        app.router.add_post("/token", self._token)
        app.router.add_post("/v1/projects/{project}/messages:send", self._send)
        self._runner, base = await serve_on_loopback(app)
        self.url = base
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- OAuth2 token endpoint -----------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if self._token_canned:
            canned = self._token_canned.pop(0)
            return web.Response(status=canned.status, body=canned.body, content_type="application/json")
        if form.get("grant_type") != JWT_BEARER:
            return _oauth_error(400, "unsupported_grant_type", "Invalid grant_type")
        assertion = form.get("assertion")
        if not isinstance(assertion, str) or self._public_key is None:
            return _oauth_error(400, "invalid_request", "Missing required parameter: assertion")
        try:
            claims = jwt.decode(assertion, certs=self._public_key, audience=TOKEN_AUDIENCE)
        except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
            return _oauth_error(400, "invalid_grant", f"Invalid JWT Signature: {exc}")
        if claims.get("iss") != self._client_email or FCM_SCOPE not in str(claims.get("scope", "")).split():
            return _oauth_error(400, "invalid_scope", "Invalid OAuth scope or issuer")
        self.token_grants.append(claims)
        token = "ya29.fake-" + uuid.uuid4().hex
        self._issued.add(token)
        return web.json_response({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    # -- FCM v1 send ------------------------------------------------------------------

    async def _send(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(RecordedRequest(request.method, request.path, dict(request.headers), body))
        if self._canned:
            canned = self._canned.pop(0)
            return web.Response(
                status=canned.status, body=canned.body, headers=canned.headers, content_type="application/json"
            )
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._issued:
            return _fcm_error(
                401,
                None,
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential.",
            )
        if request.match_info["project"] != self.project_id:
            return _fcm_error(403, "SENDER_ID_MISMATCH", "SenderId mismatch")
        try:
            payload = json.loads(body)
            message = payload["message"]
        except (ValueError, KeyError, TypeError):
            return _fcm_error(400, None, "Invalid JSON payload received.")
        token = message.get("token") if isinstance(message, dict) else None
        if not token:
            return _fcm_error(400, "INVALID_ARGUMENT", "Recipient of the message is not set.")
        data = message.get("data") or {}
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            return _fcm_error(400, None, "Invalid value at 'message.data[0].value' (TYPE_STRING)")
        if token in self.unregistered:
            return _fcm_error(404, "UNREGISTERED", "Requested entity was not found.")
        self.sent.append(payload)
        name = f"projects/{self.project_id}/messages/0:{uuid.uuid4().int % 10**16}%{uuid.uuid4().hex[:16]}"
        return web.json_response({"name": name})


def _fcm_error(status: int, error_code: str | None, message: str) -> web.Response:
    return web.json_response(fcm_error_body(status, error_code, message), status=status)


def _oauth_error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)
