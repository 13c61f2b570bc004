"""WebSocket URL patterns, mounted by chatsite.asgi behind session auth and an Origin check."""

from django.urls import path

from chat.consumers import ChatConsumer

websocket_urlpatterns = [
    path("ws/chat/", ChatConsumer.as_asgi()),
]
