"""Event Grid for the emulated resource: chat events delivered to webhooks as Event Grid does.

Pieces, apart from HTTP where they can be:

* ``builders``: a chat change (``acs_emulator.chat.changes``) -> the eight thread-level chat
  events (type, subject, data), following Microsoft's examples; its docstring lists the choices
  made where Microsoft's sources disagree.
* ``envelopes``: the Event Grid and CloudEvents 1.0 envelopes, batches, the validation event.
* ``subscriptions``: webhooks, filters, batching, retry policy, headers, faults (SQLite).
* ``outbox``: undelivered events, written in the chat operation's own transaction.
* ``publisher``: the chat store's ``publish`` callback (a cheap enqueue).
* ``delivery``: the background worker: handshakes, deliveries, retries, faults.
* ``counters``: per-subscription delivery counters for ``/_emulator/stats``.
* ``service``: puts them together; ``routes``: the ``/_emulator/events/subscriptions`` routes.

Per-user events (``ChatMessageReceived`` and the other seven) are not published.
"""

from .routes import EVENTS, add_event_routes
from .service import EventService, EventSettings

__all__ = ["EVENTS", "EventService", "EventSettings", "add_event_routes"]
