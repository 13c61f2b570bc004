"""The ASGI application: HTTP through Django, WebSockets only from allowed origins."""

import pytest
from channels.testing import HttpCommunicator, WebsocketCommunicator

from chatsite.asgi import application


@pytest.mark.django_db(transaction=True)
async def test_http_goes_to_django():
    communicator = HttpCommunicator(
        application, "GET", "/accounts/login/", headers=[(b"host", b"127.0.0.1")]
    )
    response = await communicator.get_response()
    assert response["status"] == 200


async def handshake(origin: str | None, host: str | None = "127.0.0.1:8000", **scope) -> bool:
    """Whether a handshake gets past the Origin check (no consumer is mounted at this path, so
    getting past it ends in the router's "No route found")."""
    headers = []
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if host is not None:
        headers.append((b"host", host.encode()))
    communicator = WebsocketCommunicator(application, "/ws/anything/", headers=headers)
    communicator.scope.update(scope)
    try:
        connected, _ = await communicator.connect()
    except ValueError as error:
        assert "No route found" in str(error)
        return True
    assert connected is False
    return False


async def test_websocket_from_the_sites_own_origin_reaches_the_router():
    assert await handshake("http://127.0.0.1:8000")
    assert await handshake("https://127.0.0.1:8443", host="127.0.0.1:8443", scheme="wss")
    assert await handshake("http://localhost", host="localhost")


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://evil.example", "127.0.0.1:8000"),
        # The same host on another port or scheme is another origin, as for forms.
        ("http://127.0.0.1:9999", "127.0.0.1:8000"),
        ("https://127.0.0.1:8000", "127.0.0.1:8000"),
        ("http://127.0.0.1", "127.0.0.1:8000"),
        # A host the site does not answer to, even when the Origin matches it.
        ("http://evil.example:8000", "evil.example:8000"),
        ("null", "127.0.0.1:8000"),
        (None, "127.0.0.1:8000"),
        ("http://127.0.0.1:8000", None),
    ],
)
async def test_websocket_from_any_other_origin_is_refused(origin, host):
    assert not await handshake(origin, host)


async def test_trusted_origins_are_accepted_like_for_forms(settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com", "https://*.example.org"]
    # Behind a proxy that terminates TLS, the socket itself is plain ws.
    assert await handshake("https://chat.example.com", host="chat.example.com")
    assert await handshake("https://app.example.org", host="chat.example.com")
    assert not await handshake("http://app.example.org", host="chat.example.com")


async def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings):
    settings.ALLOWED_HOSTS = ["chat.example.com"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    communicator_headers = {"x-forwarded-proto": "https"}
    headers = [(k.encode(), v.encode()) for k, v in communicator_headers.items()]
    assert await handshake(
        "https://chat.example.com",
        host="chat.example.com",
        headers=[
            (b"origin", b"https://chat.example.com"),
            (b"host", b"chat.example.com"),
            *headers,
        ],
    )
    assert not await handshake(
        "http://chat.example.com",
        host="chat.example.com",
        headers=[(b"origin", b"http://chat.example.com"), (b"host", b"chat.example.com"), *headers],
    )
