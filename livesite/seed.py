"""The Django side of the live-site harness, run as ``python -m livesite.seed COMMAND`` in a child.

The harness (livesite/__init__.py) starts Kwebbel in Daphne processes of its own, on a database of
its own; whatever has to happen inside Django on that database (migrating it, creating users,
their sessions, ACS identities and threads, reading the relay's log) runs here, in a child
process with the same environment as the servers. The caller's process never sets Django up,
so a pytest run (with its own test database) and a plain benchmark script use it alike.

Commands read a JSON payload on stdin and print one JSON line on stdout:

* ``migrate``: ``{}`` -> ``{}`` (and ``collectstatic`` when ``DEBUG`` is off).
* ``seed``: ``{"users": [name, ...], "threads": [{"topic", "creator", "members": [name]}]}`` ->
  ``{"users": {name: {"id", "raw_id", "session", "token"}}, "threads": [id], "service": raw}``.
  Members see the whole history. Users have no usable password: they sign in by session.
* ``sessions``: ``{"user": name, "count": n}`` -> ``{"sessions": [key, ...]}``.
* ``events``: ``{"thread", "viewer": name}`` -> ``{"events": [{"cursor", "kind", "shown"}],
  "last_cursor": n}``: the thread's relay log, and whether ``chat.relay.render`` (the
  consumer's per-viewer filter) shows each event to that viewer.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from typing import Any


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    import django

    django.setup()


def migrate(payload: dict[str, Any]) -> dict[str, Any]:
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if not settings.DEBUG:  # production mode serves collected, compressed static files
        call_command("collectstatic", verbosity=0, interactive=False)
    return {}


def _session_for(user: Any) -> str:
    """A signed-in session, as ``login()`` would store it (no password check needed)."""
    from importlib import import_module

    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[SESSION_KEY] = user._meta.pk.value_to_string(user)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.save()
    return store.session_key


def seed(payload: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from chat.actions.threads import EPOCH, ParticipantChoice, do_create_thread
    from chat.people import service_raw_id
    from tokens import services

    model = get_user_model()
    users: dict[str, Any] = {}
    out: dict[str, dict[str, Any]] = {}
    for name in payload.get("users", []):
        user, _created = model.objects.get_or_create(username=name)
        if _created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        token = services.get_token(user)  # creates the ACS identity on first use
        users[name] = user
        out[name] = {
            "id": user.pk,
            "raw_id": token.communication_user_id,
            "session": _session_for(user),
            "token": token.token,
        }
    threads = []
    for spec in payload.get("threads", []):
        creator = users[spec["creator"]]
        choices = [
            ParticipantChoice(users[name], EPOCH)
            for name in spec.get("members", [])
            if name != spec["creator"]
        ]
        created = do_create_thread(creator, spec["topic"], choices, str(uuid.uuid4()))
        if created.failures:
            raise RuntimeError(f"ACS did not add {created.failures}")
        threads.append(created.thread_id)
    return {"users": out, "threads": threads, "service": service_raw_id()}


def sessions(payload: dict[str, Any]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=payload["user"])
    return {"sessions": [_session_for(user) for _ in range(int(payload["count"]))]}


def events(payload: dict[str, Any]) -> dict[str, Any]:
    from chat.models import RelayThread
    from chat.relay.api import events_after
    from chat.relay.render import Viewer, neutral, visible_to
    from tokens.models import AcsIdentity

    thread_id = payload["thread"]
    raw_id = AcsIdentity.objects.get(user__username=payload["viewer"]).communication_user_id
    # The harness's members see the whole history, so the filter's history start is None.
    viewer = Viewer(raw_id, None)
    logged = events_after(thread_id, 0) or []
    row = RelayThread.objects.filter(chat_thread_id=thread_id).first()
    return {
        "events": [
            {
                "cursor": e.cursor,
                "kind": e.kind,
                "shown": visible_to(e, viewer) and neutral(e) is not None,
            }
            for e in logged
        ],
        "first_kept": row.pruned_through + 1 if row else 1,
        "last_cursor": row.last_cursor if row else 0,
    }


COMMANDS = {"migrate": migrate, "seed": seed, "sessions": sessions, "events": events}


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in COMMANDS:
        print(
            f"usage: python -m livesite.seed {{{','.join(COMMANDS)}}} < payload.json",
            file=sys.stderr,
        )
        return 2
    payload = json.loads(sys.stdin.read() or "{}")
    _setup()
    result = COMMANDS[argv[0]](payload)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
