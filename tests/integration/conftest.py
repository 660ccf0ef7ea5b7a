"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_telegram import FakeTelegram


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    """The fake Bot API on 127.0.0.1 (a module may define its own ``fake``: Yahoo's, say)."""
    with FakeTelegram() as server:
        yield server
