"""Firebase Cloud Messaging HTTP v1: one push per reply, with a service account's OAuth2 token.

- Send: ``POST {FCM_API_BASE}/v1/projects/{project}/messages:send`` with a ``Message``
  (https://firebase.google.com/docs/reference/fcm/rest/v1/projects.messages/send); the answer
  is the message resource, whose ``name`` we keep as the provider message id.
- Auth: an OAuth2 access token for the ``firebase.messaging`` scope, minted from the service
  account JSON by google-auth (JWT-bearer grant at the file's ``token_uri``,
  https://developers.google.com/identity/protocols/oauth2/service-account#httprest).
  google-auth is synchronous, so the refresh runs in a thread; a lock keeps concurrent sends
  from refreshing at once.
- Errors: ``{"error": {"code", "message", "status", "details": [{"@type": ...FcmError,
  "errorCode": ...}]}}`` (https://firebase.google.com/docs/cloud-messaging/error-codes,
  https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode). ``UNREGISTERED`` means the
  app instance is gone: the token is dead and must not be used again
  (https://firebase.google.com/docs/cloud-messaging/manage-tokens).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import google.auth.exceptions
import google.auth.transport.requests
from google.oauth2 import service_account

from channels.android_app.errors import PushTokenDead
from channels.base import SendError, SendResult
from channels.http_send import classify_status, json_field, post_or_get
from config.settings import ConfigurationError

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"

# FCM error codes (ErrorCode reference above) after which trying again later can succeed.
RETRYABLE_CODES = frozenset({"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL"})
_FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"


class _TimedRequest(google.auth.transport.requests.Request):
    """google-auth's requests transport with our time-out (its default is 120 s)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def __call__(
        self, url: str, method: str = "GET", body: Any = None, headers: Any = None, timeout: Any = None, **kwargs: Any
    ) -> Any:
        return super().__call__(
            url, method=method, body=body, headers=headers, timeout=timeout or self._timeout, **kwargs
        )


def fcm_error(body: str) -> tuple[str, str]:
    """(error code, message) of an FCM error answer.

    The code is the ``errorCode`` of the ``FcmError`` detail when there is one, else the
    canonical ``status`` (``NOT_FOUND``, ``UNAUTHENTICATED`` ...), else ``UNSPECIFIED_ERROR``.
    """
    try:
        error = json.loads(body).get("error") or {}
    except (ValueError, AttributeError):
        return "UNSPECIFIED_ERROR", body[:200]
    if not isinstance(error, dict):
        return "UNSPECIFIED_ERROR", body[:200]
    message = str(error.get("message") or "")[:300]
    for detail in error.get("details") or ():
        if isinstance(detail, dict) and detail.get("@type") == _FCM_ERROR_TYPE and detail.get("errorCode"):
            return str(detail["errorCode"]), message
    return str(error.get("status") or "UNSPECIFIED_ERROR"), message


class FcmClient:
    """Sends FCM v1 messages for one Firebase project."""

    def __init__(self, *, project_id: str, credentials_file: str, api_base: str, timeout: float) -> None:
        """Load the service account. Raises ConfigurationError when the file is unusable."""
        try:
            self.credentials = service_account.Credentials.from_service_account_file(credentials_file, scopes=[SCOPE])
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigurationError(
                f"FCM_CREDENTIALS_FILE {credentials_file!r} is not a readable service-account JSON "
                f"({type(exc).__name__}); download one from the Firebase console"
            ) from exc
        self.url = f"{api_base.rstrip('/')}/v1/projects/{project_id}/messages:send"
        self.timeout = timeout
        self._auth_request = _TimedRequest(timeout)
        self._refresh_lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def send(self, message: dict[str, Any]) -> SendResult:
        """POST one message; return its resource name.

        Raises :class:`PushTokenDead` for ``UNREGISTERED``, and :class:`SendError` otherwise:
        retryable for throttling, server trouble, network errors and token-endpoint
        trouble; permanent for the rest (``INVALID_ARGUMENT``, ``SENDER_ID_MISMATCH`` ...).
        """
        status, body = await self._post(message, await self._access_token())
        if status == 401:
            # The access token was revoked or expired early: mint a new one and try once more.
            status, body = await self._post(message, await self._access_token(force=True))
        if 200 <= status < 300:
            name = json_field(body, "name")
            return SendResult(provider_message_id=name if isinstance(name, str) else None)
        code, text = fcm_error(body)
        if code == "UNREGISTERED":
            raise PushTokenDead(f"FCM {status} UNREGISTERED: {text}")
        retryable = code in RETRYABLE_CODES or classify_status(status) or status == 401
        raise SendError(f"FCM {status} {code}: {text}", retryable=retryable)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, message: dict[str, Any], token: str) -> tuple[int, str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        return await post_or_get(
            self._session, "POST", self.url, json=message, headers={"Authorization": f"Bearer {token}"}
        )

    async def _access_token(self, *, force: bool = False) -> str:
        """A valid access token, refreshed in a thread when missing or about to expire."""
        stale = self.credentials.token
        async with self._refresh_lock:
            # Another send may have refreshed while this one waited for the lock.
            fresh = self.credentials.valid and not (force and self.credentials.token == stale)
            if not fresh:
                try:
                    await asyncio.to_thread(self.credentials.refresh, self._auth_request)
                except google.auth.exceptions.RefreshError as exc:
                    retryable = bool(getattr(exc, "retryable", False))
                    raise SendError(f"FCM access token refused: {_short(exc)}", retryable=retryable) from None
                except google.auth.exceptions.TransportError as exc:
                    raise SendError(f"FCM token endpoint unreachable: {_short(exc)}", retryable=True) from None
            return str(self.credentials.token)


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
