"""Shared fixtures: no test reaches the internet; real prices come from ../shared when present."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# Each test points XDG_CACHE_HOME into its own folder (below), where matplotlib would rebuild
# its font cache in every subprocess: keep the usual one.
os.environ.setdefault(
    "MPLCONFIGDIR",
    str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "matplotlib"),
)
os.environ["YF_DISABLE_CURL_CFFI"] = "1"

REAL_PRICES = Path(__file__).resolve().parents[2] / "shared" / "data" / "prices"

_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    host = address[0]
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_connect(self, address)


def _guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
    if not _is_loopback(address):
        raise RuntimeError(f"test tried to reach the network: {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail any connection that is not to loopback (a test must never touch the internet)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the user's config, token, working directory and XDG folders out of tests."""
    monkeypatch.delenv("ROTABOT_CONFIG", raising=False)
    monkeypatch.delenv("ROTABOT_TELEGRAM_TOKEN", raising=False)
    # The state file and yfinance's cache default to these folders: one set per test, so no
    # test writes to the user's home and parallel workers never share a state file.
    for name in ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
        monkeypatch.setenv(name, str(tmp_path / "xdg" / name.lower()))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def real_prices() -> Path:
    """The folder of real daily prices; skip the test when it is not beside the project."""
    if not (REAL_PRICES / "NVDA.csv").is_file():
        pytest.skip("real price data not found (expected ../shared/data/prices beside the project)")
    return REAL_PRICES
