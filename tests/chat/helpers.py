"""Shared helpers for the chat page tests: a thread made through the pages, and page reading."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django.urls import reverse


def create_thread(client: Any, topic: str, people: dict[Any, str], **since: Any) -> str:
    """Create a thread through the new-thread page; `people` maps user -> history choice."""
    data = {"topic": topic, "idempotency_token": str(uuid.uuid4())}
    for user, history in people.items():
        data[f"people-pick_{user.pk}"] = "on"
        data[f"people-history_{user.pk}"] = history
        if history == "since":
            data[f"people-since_{user.pk}"] = since[user.username]
    response = client.post(reverse("chat:new"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    match = re.search(r"/chat/t/([^/]+)/", response["Location"])
    assert match, response["Location"]
    return match.group(1)


def send(client: Any, thread_id: str, content: str, fmt: str = "text") -> str:
    """Send a message through the thread page; return its id from the redirect."""
    response = client.post(
        reverse("chat:thread", args=[thread_id]), {"content": content, "format": fmt}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"].rsplit("#m-", 1)[1]


def page(client: Any, thread_id: str, **params: str) -> str:
    response = client.get(reverse("chat:thread", args=[thread_id]), params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()
