"""WebSocket URL patterns, mounted by chatsite.asgi behind session auth and an Origin check."""

websocket_urlpatterns: list = []
