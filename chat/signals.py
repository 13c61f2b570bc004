"""Keep open websockets in step with the site's sessions (see chat.sessions)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out

from chat import sessions
from tokens.signals import credentials_changed


def connect() -> None:
    user_logged_out.connect(_signed_out, dispatch_uid="chat.sessions.logout")
    credentials_changed.connect(_credentials_changed, dispatch_uid="chat.sessions.credentials")


def _signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    sessions.end_session_sockets(getattr(session, "session_key", None))


def _credentials_changed(sender: Any, user: Any, **kwargs: Any) -> None:
    sessions.recheck_user_sockets(user.pk)
