"""Fixtures for the chat page tests: the site on the emulator with chat URLs, signed-in clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def acs_site(acs_settings: Any, settings: Any) -> Iterator[Any]:
    """The site pointed at the test emulator, with no chat clients cached from other tests."""
    from chat import gateway

    gateway.reset()
    yield settings
    gateway.reset()


@pytest.fixture
def make_site_user(make_site_user: Callable[..., Any], acs_site: Any) -> Callable[..., Any]:
    """The site's ``make_site_user``, with the site talking to the emulator."""
    return make_site_user


@pytest.fixture
def signed_in() -> Callable[[Any], Any]:
    """``signed_in(user)`` -> a test Client with that user's session."""
    from django.test import Client

    def make(user: Any) -> Any:
        client = Client()
        client.force_login(user)
        return client

    return make
