"""WebSocket handshakes: the Origin check, and how oversized frames end.

**Origin.** Browsers send cookies with cross-site WebSocket handshakes, so a page on any other
origin could open a socket signed in as the visitor. The check here is the one Django's CSRF
protection applies to forms (``CsrfViewMiddleware``): the Origin must be exactly the scheme, host
and port the socket is opened on, for a host in ``ALLOWED_HOSTS``, or one of
``CSRF_TRUSTED_ORIGINS``. Channels' ``AllowedHostsOriginValidator`` compares host names only, so
another port or scheme on the same host would pass it.

**Frames over the server's limit.** Daphne's WebSocket library drops the TCP connection when a
frame is larger than its limit (1 MiB by default), which a browser reports as 1006 with no reason.
:func:`close_oversized_frames_cleanly` makes it close with 1009 ("message too big") instead, so
the page knows what happened and reconnects.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain


def _header(scope: dict, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _scheme(scope: dict) -> str:
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        # ("HTTP_X_FORWARDED_PROTO", "https") -> the x-forwarded-proto header.
        header, secure = proxy
        name = header.removeprefix("HTTP_").lower().replace("_", "-").encode()
        if _header(scope, name).split(",")[0].strip() == secure:
            return "https"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def origin_allowed(scope: dict) -> bool:
    """Whether a handshake's Origin is the site's own (see the module docstring)."""
    origin = _header(scope, b"origin")
    host = _header(scope, b"host")
    if not origin or origin == "null" or not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    if origin == f"{_scheme(scope)}://{host}":
        return True
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parsed = urlsplit(origin)
    # As Django does for CSRF_TRUSTED_ORIGINS entries with a wildcard, e.g. https://*.example.com:
    # "*.example.com" becomes the pattern ".example.com" (the domain and its subdomains).
    wildcards = [urlsplit(t) for t in settings.CSRF_TRUSTED_ORIGINS if "://*" in t]
    return any(
        entry.scheme == parsed.scheme and is_same_domain(parsed.netloc, entry.netloc[1:])
        for entry in wildcards
    )


class SameOriginWebsockets:
    """ASGI middleware: refuse (403) WebSocket handshakes from any other origin."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)


def close_oversized_frames_cleanly() -> None:
    """Make Daphne's WebSocket factory close with a close frame (1009 for a frame over the
    limit) where it would otherwise drop the connection. Daphne does not expose the option, so
    it is set on the factory class it instantiates; without Daphne this does nothing."""
    try:
        from daphne.ws_protocol import WebSocketFactory
    except ImportError:  # served by something else
        return
    if getattr(WebSocketFactory, "_kwebbel_clean_close", False):
        return
    original = WebSocketFactory.setProtocolOptions

    def set_protocol_options(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("failByDrop", False)
        original(self, *args, **kwargs)

    WebSocketFactory.setProtocolOptions = set_protocol_options  # type: ignore[method-assign]
    WebSocketFactory._kwebbel_clean_close = True  # type: ignore[attr-defined]
