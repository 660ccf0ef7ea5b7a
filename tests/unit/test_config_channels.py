"""``[[channels]]`` and ``telegram.digest``: each problem named by its dotted path."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from bot.config.model import ChannelConfig
from bot.errors import ConfigError


def problems(raw: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(raw)
    return list(caught.value.problems)


def test_a_channel_takes_its_defaults() -> None:
    config = parse_config({"channels": [{"name": "ops", "url_env": "OPS_URL"}]})
    assert config.channels == (ChannelConfig("ops", "OPS_URL"),)
    assert config.channels[0].watches("chips/platforms")
    assert config.telegram.digest == "off"


def test_every_field_is_read() -> None:
    table = {
        "name": "mail",
        "url_env": "MAIL_URL",
        "min_severity": "info",
        "pairs": ["chips/platforms"],
        "charts": True,
        "digest": "weekly",
    }
    config = parse_config({"channels": [table], "telegram": {"digest": "daily"}})
    assert config.channels == (
        ChannelConfig("mail", "MAIL_URL", "info", ("chips/platforms",), True, "weekly"),
    )
    assert config.telegram.digest == "daily"


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"url_env": "A"}, "channels[0].name: missing"),
        ({"name": "telegram", "url_env": "A"}, "channels[0].name: 'telegram' is reserved"),
        ({"name": "Has Space", "url_env": "A"}, "channels[0].name: use 1-32 lower-case"),
        ({"name": "a"}, "channels[0].url_env: missing"),
        ({"name": "a", "url_env": "A", "pairs": ["x/y"]}, "channels[0].pairs[0]: 'x/y' is not"),
        ({"name": "a", "url_env": "A", "digest": "hourly"}, "channels[0].digest: must be one of"),
        ({"name": "a", "url_env": "A", "min_severity": "loud"}, "channels[0].min_severity:"),
        ({"name": "a", "url_env": "A", "url": "x"}, "channels[0].url: unknown key"),
    ],
)
def test_a_bad_channel_is_named_by_its_path(table: dict[str, object], expected: str) -> None:
    assert any(p.startswith(expected) for p in problems({"channels": [table]})), expected


def test_a_url_in_url_env_is_refused_without_being_repeated() -> None:
    url = "discord://1234567/very-secret-webhook-token"
    (problem,) = problems({"channels": [{"name": "a", "url_env": url}]})
    assert problem.startswith("channels[0].url_env: must be the NAME of an environment variable")
    assert "very-secret" not in problem and "discord" not in problem


def test_names_are_unique_and_channels_is_an_array() -> None:
    twice = [{"name": "a", "url_env": "A"}, {"name": "a", "url_env": "B"}]
    assert problems({"channels": twice}) == ["channels[1].name: 'a' repeats channels[0]"]
    assert problems({"channels": {"name": "a"}}) == [
        "channels: must be an array of tables ([[channels]])"
    ]
