"""Helpers for the chat SDK tests: thread setup, raw HTTP calls, waiting out a timestamp."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import requests
from azure.communication.chat import ChatParticipant


def wait_past(moment: datetime) -> None:
    """Sleep until the wall clock (shared with the local emulator) is past ``moment``.

    Used where a test needs messages on both sides of a second-precision timestamp the service
    returned; it waits at most about a second and asserts nothing about timing.
    """
    while (remaining := (moment - datetime.now(UTC)).total_seconds()) >= -0.05:
        time.sleep(max(remaining, 0) + 0.06)


def unknown_user_id(known_raw_id: str) -> str:
    """A well-formed raw id on the same resource that no identity has."""
    resource = known_raw_id.split(":", 2)[2].split("_", 1)[0]
    return f"8:acs:{resource}_{uuid.uuid4()}"


def create_thread(chat_user, *members, topic: str = "Topic", **kwargs) -> str:
    """Create a thread owned by ``chat_user`` with the given ChatUsers as participants."""
    participants = [ChatParticipant(identifier=m.user.identifier) for m in members]
    result = chat_user.client.create_chat_thread(topic, thread_participants=participants, **kwargs)
    assert result.errors == []
    return result.chat_thread.id


class RawChat:
    """Plain HTTPS calls to the chat API with a bearer token (for bodies the SDK never sends)."""

    def __init__(self, endpoint: str, ca_bundle: str) -> None:
        self.endpoint = endpoint
        self.ca_bundle = ca_bundle
        self.session = requests.Session()

    def call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        body: object = None,
        data: bytes | None = None,
        query: dict | None = None,
    ) -> requests.Response:
        params = {"api-version": "2024-03-07", **(query or {})}
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.session.request(
            method,
            self.endpoint + path,
            params=params,
            data=data,
            headers=headers,
            timeout=30,
            # Per request: a REQUESTS_CA_BUNDLE in the environment would beat Session.verify.
            verify=self.ca_bundle,
        )

    def get_url(self, url: str, token: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return self.session.get(url, headers=headers, timeout=30, verify=self.ca_bundle)
