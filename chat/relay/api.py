"""What the websocket consumer and the pages ask of the relay (all sync: database, maybe ACS)."""

from __future__ import annotations

import logging
from datetime import datetime

from azure.core.exceptions import AzureError

from chat import gateway
from chat.models import RelayThread
from chat.relay.events import parse_time
from chat.relay.log import current_cursor, events_after, group_name
from chat.relay.observe import observe_members
from tokens.services import AcsError

__all__ = ["current_cursor", "events_after", "group_name", "member_view", "refresh_members"]

logger = logging.getLogger(__name__)


def refresh_members(thread_id: str) -> None:
    """Read the members from ACS as the service identity and publish any difference."""
    client = gateway.service_thread_client(thread_id)
    members = {p.identifier.raw_id: p.share_history_time for p in client.list_participants()}
    observe_members(thread_id, members)


def _published(thread_id: str) -> dict[str, str | None] | None:
    row = RelayThread.objects.filter(chat_thread_id=thread_id).only("members").first()
    return None if row is None else row.members


def member_view(
    thread_id: str, raw_id: str, *, refresh: bool = True
) -> tuple[bool, datetime | None]:
    """(is a member, their share_history_time) as last published.

    When ``raw_id`` is not among the published members (or none are known yet), the members are
    read again from ACS first (one ChatThread_ListChatParticipants), so someone added while no
    poller ran is not turned away; a removal costs that one call per removed viewer.
    """
    members = _published(thread_id)
    if refresh and (members is None or raw_id not in members):
        try:
            refresh_members(thread_id)
        except (AzureError, AcsError):
            logger.warning("could not read the members of %s", thread_id, exc_info=True)
        members = _published(thread_id)
    if not members or raw_id not in members:
        return False, None
    return True, parse_time(members[raw_id])
