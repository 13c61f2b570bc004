"""The chat service's state and rules over SQLite, one method per spec operation.

Nothing here sees an HTTP request: methods take the caller's raw id and ``now`` and raise
:class:`acs_emulator.errors.AcsError`. Each resource lives in its own module; ``ChatStore`` only
puts them together.
"""

from __future__ import annotations

from .messages import MessageOperations
from .receipts import ReceiptOperations
from .threads import ThreadOperations


class ChatStore(ThreadOperations, MessageOperations, ReceiptOperations):
    """All 16 chat operations on one SQLite connection (tables created on construction)."""
