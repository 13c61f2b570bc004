"""The ASGI application: Django for HTTP, Channels consumers for WebSockets.

Served by Daphne (`daphne chatsite.asgi:application`, or `manage.py runserver`).
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

# Set up Django (apps, models) before anything below imports models.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chat.routing import websocket_urlpatterns  # noqa: E402
from chat.sessions import RefusePenalisedSessions  # noqa: E402
from chatsite.websocket import SameOriginWebsockets, close_oversized_frames_cleanly  # noqa: E402

close_oversized_frames_cleanly()

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send cookies with cross-site WebSocket handshakes, so the Origin must be the
        # site's own (scheme, host and port, as for forms) before the session is trusted.
        "websocket": SameOriginWebsockets(
            RefusePenalisedSessions(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))
        ),
    }
)
