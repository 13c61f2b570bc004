"""The live relay: one reader per watched thread, an exactly-once, in-order event stream.

Kwebbel reads each thread that someone has open, once for all viewers and all server processes,
and turns what it reads into events:

* **Differences, from one place, in ACS's order.** ``observe.py`` keeps, per thread, what was
  already published (message fingerprints and versions, members with their
  share_history_time, topic, latest read receipt per reader) in the database, and appends events
  only for differences, under the thread's row lock. The poller and Kwebbel's own actions call
  the same functions, so a change made through Kwebbel is pushed at once by the action, and the
  poll that later sees it finds nothing new: never twice. Topic and membership changes are
  published from the system messages that announce them, by sequence id, so none is published
  twice or after a newer one; see ``observe.py`` for how each kind is ordered.
* **The log carries the guarantee** (``log.py``). Each event gets the thread's next cursor
  (1, 2, 3, ...) in the appending transaction and is kept (``RELAY_LOG_KEEP``, 5000 per thread);
  the channel-layer push after commit is only a hint. Pages resume from their last cursor
  (``subscription.py``); a cursor older than the log keeps gets ``None`` from ``events_after``:
  reload the thread. Every event says when it happened, and a viewer whose history starts later
  sees none of it, whatever the kind (``render.py``).
* **Polling** (``poller.py``), as the service identity that Kwebbel adds to every thread it
  creates, on the event loop. Every ``RELAY_POLL_INTERVAL`` (1 s) the messages created since
  the newest one seen (usually none or one: cheap to read), paging on through a burst; every
  ``RELAY_EDIT_SCAN_EVERY`` (5 s) the newest 20 messages instead, and every
  ``RELAY_DEEP_SCAN_EVERY`` (30 s) the newest 200, with the participants and the topic as they
  are (which catches an announcement older than that). So **new messages arrive within a poll,
  edits and deletions within 5 s for the newest 20 messages and within 30 s for the newest
  200**; older ones are not watched. Read receipts at most every 2.5 s (ACS allows 5 per 10 s
  per user and thread). Cost per watched thread: about 60 list-messages, 24 receipts and 4
  other calls a minute. Pollers start at a random point of their interval, so they do not poll
  in step, and a poll hands the database only what changed since the last.
* **Limits.** A call budget per thread keeps the poller within ACS's per user-and-thread limits
  (the strictest that apply to one identity: list messages 50/10 s and 200/min, receipts
  5/10 s, participants 10/10 s), with headroom, however low the interval: polls are never
  closer than 0.375 s, the even pace of that budget. 429 and 5xx stop all calls for the thread
  until ``Retry-After`` (or an exponential backoff up to 60 s); the SDK's own retries are off
  for these clients so the poller alone decides when to call again.
* **The end of a thread.** A 404 (the thread was deleted, through Kwebbel or straight through
  ACS) publishes ``thread.deleted`` and marks the thread's record; a 403 (Kwebbel's service
  identity was removed outside Kwebbel) publishes ``relay.stopped``, logs it and marks the
  record, which the staff page shows. Kwebbel's own actions still publish what they change.
* **One poller per thread** (``relay.py``, ``locks.py``): a process polls a thread while it has
  viewers there and holds the thread's lock, a Redis lock with a renewed TTL when ``REDIS_URL``
  is set, an in-process one otherwise. When its last viewer leaves it stops and releases, and
  another process with viewers takes over within a lock retry (2 s).
* **Events** (``RELAY_EVENTS``; ``hints.py``, ``acs_events.py``, the webhook in
  ``chat/views/events.py``). Event Grid's chat events say which thread changed; the webhook hands
  that to the thread's poller, in whatever process holds its lock, through the channel layer
  (the poller's relay joins the thread's hint group while it polls). The poller wakes and reads
  the change with the reads above (new messages; the newest 20, or 200, for an edit or a
  deletion), so it is published once like any other. While events arrive for a thread they are
  *trusted*: the thread is reconciled in full only every ``RELAY_TRUSTED_POLL_INTERVAL`` (30 s)
  and its receipts read every ``RELAY_TRUSTED_RECEIPTS_EVERY`` (5 s): about 2 list-messages,
  12 receipts and 4 other calls a minute, plus one read per event burst. A reconciliation that
  publishes anything found a change no event announced: the thread is polled every
  ``RELAY_POLL_INTERVAL`` again (logged) until its next event.
* **Typing** cannot be read from ACS, so only Kwebbel users' typing is relayed: an unlogged
  push to the thread's open pages.
"""

from chat.relay.api import current_cursor, events_after, group_name, thread_state
from chat.relay.events import Event
from chat.relay.observe import (
    observe_members,
    observe_messages,
    observe_receipts,
    observe_thread_deleted,
    observe_topic,
    publish_typing,
)

__all__ = [
    "Event",
    "current_cursor",
    "events_after",
    "group_name",
    "observe_members",
    "observe_messages",
    "observe_receipts",
    "observe_thread_deleted",
    "observe_topic",
    "publish_typing",
    "thread_state",
]
