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


async def test_websocket_from_a_foreign_origin_is_refused():
    communicator = WebsocketCommunicator(
        application, "/ws/anything/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await communicator.connect()
    assert connected is False


async def test_websocket_from_an_allowed_origin_reaches_the_router():
    # No consumer is mounted at this path, so getting past the Origin check ends in the router.
    communicator = WebsocketCommunicator(
        application, "/ws/anything/", headers=[(b"origin", b"http://127.0.0.1:8000")]
    )
    with pytest.raises(ValueError, match="No route found"):
        await communicator.connect()


async def test_websocket_without_origin_is_refused():
    communicator = WebsocketCommunicator(application, "/ws/anything/")
    connected, _ = await communicator.connect()
    assert connected is False
