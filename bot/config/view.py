"""The configuration as the user sees it: global CLI overrides and a redacted plain view."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from datetime import date, time
from pathlib import Path

from bot.config.model import Config
from bot.core.params import Pair


def with_overrides(config: Config, prices_dir: Path | None = None, offline: bool = False) -> Config:
    """Apply the global CLI options: ``--prices-dir DIR`` (CSV from DIR) and ``--offline``."""
    data = config.data
    if prices_dir is not None:
        data = replace(data, source="csv", csv_dir=Path(prices_dir))
    if offline:
        data = replace(data, refresh="never")
    return replace(config, data=data)


def redacted_view(config: Config, environ: Mapping[str, str]) -> dict[str, object]:
    """Return the effective configuration as plain data; the token shows only as set/unset."""
    view: dict[str, object] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "baskets":
            view["baskets"] = {
                b.key: {"name": b.name, "tickers": list(b.tickers)}
                | ({"weights": list(b.weights)} if b.weights else {})
                for b in value
            }
        elif f.name == "watch":
            # The pairs in effect, so the printed file, read back, watches the same pairs.
            view["watch"] = {"pairs": [p.key for p in config.pairs], "rrg_tail": value.rrg_tail}
        elif f.name == "channels":
            view["channels"] = [_channel(c, environ) for c in value]
        elif f.name == "source_file":
            view["source_file"] = str(value) if value else "(built-in defaults)"
        elif is_dataclass(value):
            view[f.name] = {g.name: _plain(getattr(value, g.name)) for g in fields(value)}
    token_set = bool(environ.get(config.telegram.token_env))
    telegram = view["telegram"]
    assert isinstance(telegram, dict)
    telegram["token"] = "set (redacted)" if token_set else f"not set (${config.telegram.token_env})"
    return view


def _channel(channel: object, environ: Mapping[str, str]) -> dict[str, object]:
    """A ``[[channels]]`` table as plain data; its URL (a secret) only as set or unset."""
    body = {g.name: _plain(getattr(channel, g.name)) for g in fields(channel)}  # type: ignore[arg-type]
    var = str(body["url_env"])
    body["url"] = "set (redacted)" if environ.get(var) else f"not set (${var})"
    return body


def _plain(value: object) -> object:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Pair):
        return value.key
    if isinstance(value, Path):  # absolute: the printed file must mean the same from anywhere
        return str(value.absolute())
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    return value
