"""The one exception type every emulator layer raises, rendered in the spec's error shape.

ACS (Common ``CommunicationErrorResponse``) answers ``{"error": {"code", "message", "target"?}}``.
The real chat service sometimes uses ``{"CommunicationError": {...}}`` instead; the spec shape is
used everywhere here so that the SDK fills ``HttpResponseError.error`` with the code and message.
"""

from __future__ import annotations

from collections.abc import Mapping


class AcsError(Exception):
    """A failed operation: HTTP status, the service's error code, and a message for people."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        target: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.target = target
        self.headers = dict(headers or {})

    def body(self) -> dict:
        error: dict[str, str] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


def bad_request(message: str, *, target: str | None = None) -> AcsError:
    return AcsError(400, "BadRequest", message, target=target)


def unauthorized(message: str = "Denied by the resource provider.") -> AcsError:
    # ACS answers HMAC and token failures with code "Denied"; no WWW-Authenticate header, so the
    # SDK's bearer policy does not retry.
    return AcsError(401, "Denied", message)


def forbidden(
    message: str = "The initiator doesn't have the permission to perform the requested operation.",
) -> AcsError:
    return AcsError(403, "Forbidden", message)


def not_found(message: str = "Not found.", *, target: str | None = None) -> AcsError:
    return AcsError(404, "NotFound", message, target=target)


def too_many_requests(retry_after_seconds: int, message: str = "Too many requests.") -> AcsError:
    # Retry-After only on 429: azure-core retries any 4xx that carries it.
    return AcsError(
        429, "TooManyRequests", message, headers={"Retry-After": str(retry_after_seconds)}
    )


def service_unavailable(message: str = "The service is unavailable (injected fault).") -> AcsError:
    return AcsError(503, "ServiceUnavailable", message)
