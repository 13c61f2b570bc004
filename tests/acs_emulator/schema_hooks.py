"""Schemathesis hooks and request signing for the property-based run against the ACS specs.

Requests generated purely from the specs almost never name a thread, message or identity that
exists, so the emulator would answer 404 to nearly everything and the interesting code paths would
go untested. The hooks here swap in real ids (from a `World` built with the official SDKs before the
run) most of the time, keep the generated value some of the time, and pin `api-version` to the one
the spec describes in most requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import requests
from azure.communication.identity._shared.policy import HMACCredentialsPolicy
from hypothesis import strategies as st
from schemathesis import BaseSchema, Case, HookContext

CHAT_API_VERSION = "2024-03-07"
IDENTITY_API_VERSION = "2023-10-01"


@dataclass
class World:
    """Real resources in the emulator that generated requests can refer to."""

    chat_token: str
    # The token's user is a participant of these threads; thread id -> message ids.
    member_threads: dict[str, list[str]]
    # Threads the token's user is not a participant of; thread id -> message ids.
    foreign_threads: dict[str, list[str]]
    # Threads only Chat_DeleteChatThread picks, so deletes don't empty the other pools.
    disposable_threads: list[str]
    # Users other than the token's user, for identifiers in bodies (add/remove participants).
    other_users: list[str]
    identities: list[str]
    # Identities only CommunicationIdentity_Delete picks.
    disposable_identities: list[str] = field(default_factory=list)


class Pool:
    """The `World` of the current run: hooks are registered at import time, before it exists."""

    world: World | None = None

    @classmethod
    def get(cls) -> World:
        assert cls.world is not None, "the schema test fixture sets Pool.world before any request"
        return cls.world


class HmacAuth(requests.auth.AuthBase):
    """Signs a `requests` request the way the Identity SDK signs its own.

    The SDK's `HMACCredentialsPolicy` works on azure-core pipeline requests; it only reads the
    method, URL and body and writes headers, so a small stand-in object lets it sign the exact
    request `requests` is about to send, and the emulator is checked against the SDK's signing
    rather than a second implementation of it.
    """

    def __init__(self, endpoint: str, access_key: str) -> None:
        self._policy = HMACCredentialsPolicy(endpoint, access_key)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        http_request = SimpleNamespace(
            method=request.method, url=request.url, body=_ExactBody(body), headers={}
        )
        pipeline_request = SimpleNamespace(
            http_request=http_request, context=SimpleNamespace(transport=None)
        )
        self._policy.on_request(pipeline_request)
        request.headers.update(http_request.headers)
        return request


class _ExactBody(str):
    """The policy hashes `body.encode("utf-8")`; this hands it the bytes on the wire instead.

    Generated invalid requests can carry bodies that are not UTF-8, which must be signed as sent.
    """

    def __new__(cls, raw: bytes) -> _ExactBody:
        body = super().__new__(cls, raw.decode("utf-8", "replace"))
        body.raw = raw
        return body

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.raw


def operation_id(case: Case) -> str:
    return case.operation.definition.raw["operationId"]


def _encode(raw_id: str, rnd: random.Random) -> str:
    # Sync Python sends ids raw in the path, the JS and async clients percent-encode them.
    return quote(raw_id, safe="") if rnd.random() < 0.5 else raw_id


def _identifier(raw_id: str) -> dict[str, Any]:
    return {"rawId": raw_id, "communicationUser": {"id": raw_id}}


def _with_real_identifiers(value: Any, world: World, rnd: random.Random) -> Any:
    """Replace most identifier objects in a generated body by identifiers of existing users."""
    if isinstance(value, list):
        return [_with_real_identifiers(item, world, rnd) for item in value]
    if not isinstance(value, dict):
        return value
    if ("rawId" in value or "communicationUser" in value) and rnd.random() < 0.8:
        return _identifier(rnd.choice(world.other_users))
    return {key: _with_real_identifiers(item, world, rnd) for key, item in value.items()}


def _realistic_chat_case(case: Case, original: dict[str, Any], rnd: random.Random) -> Case:
    world = Pool.get()
    op = operation_id(case)
    case.path_parameters = dict(original["path"])
    case.query = dict(original["query"])
    case.body = original["body"]
    if rnd.random() < 0.9:
        case.query["api-version"] = CHAT_API_VERSION
    thread_id = None
    if "chatThreadId" in case.path_parameters:
        roll = rnd.random()
        if op == "Chat_DeleteChatThread" and roll < 0.8:
            thread_id = rnd.choice(world.disposable_threads)
        elif roll < 0.7:
            thread_id = rnd.choice(sorted(world.member_threads))
        elif roll < 0.8:
            thread_id = rnd.choice(sorted(world.foreign_threads))
        if thread_id is not None:
            case.path_parameters["chatThreadId"] = _encode(thread_id, rnd)
    messages = {**world.member_threads, **world.foreign_threads}.get(thread_id or "", [])
    if "chatMessageId" in case.path_parameters and messages and rnd.random() < 0.8:
        case.path_parameters["chatMessageId"] = rnd.choice(messages)
    if isinstance(case.body, dict | list):
        body = _with_real_identifiers(case.body, world, rnd)
        if isinstance(body, dict) and "chatMessageId" in body and messages and rnd.random() < 0.8:
            body["chatMessageId"] = rnd.choice(messages)
        case.body = body
    return case


def _realistic_identity_case(case: Case, original: dict[str, Any], rnd: random.Random) -> Case:
    world = Pool.get()
    case.path_parameters = dict(original["path"])
    case.query = dict(original["query"])
    if rnd.random() < 0.9:
        case.query["api-version"] = IDENTITY_API_VERSION
    if "id" in case.path_parameters and rnd.random() < 0.8:
        if operation_id(case) == "CommunicationIdentity_Delete":
            pool = world.disposable_identities
        else:
            pool = world.identities
        case.path_parameters["id"] = _encode(rnd.choice(pool), rnd)
    return case


def _snapshot(case: Case) -> dict[str, Any]:
    # Each draw starts again from what the spec-driven generator produced.
    return {
        "path": dict(case.path_parameters or {}),
        "query": dict(case.query or {}),
        "body": case.body,
    }


def install_chat_hooks(schema: BaseSchema) -> None:
    @schema.hook("flatmap_case")
    def real_chat_ids(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
        original = _snapshot(case)
        return st.randoms(use_true_random=False).map(
            lambda rnd: _realistic_chat_case(case, original, rnd)
        )


def install_identity_hooks(schema: BaseSchema) -> None:
    @schema.hook("flatmap_case")
    def real_identity_ids(context: HookContext, case: Case) -> st.SearchStrategy[Case]:
        original = _snapshot(case)
        return st.randoms(use_true_random=False).map(
            lambda rnd: _realistic_identity_case(case, original, rnd)
        )
