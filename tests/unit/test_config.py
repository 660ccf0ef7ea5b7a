"""Configuration: defaults, the example file, every error message with its dotted path."""

from __future__ import annotations

import tomllib
from datetime import date, time
from pathlib import Path

import pytest

from bot.config import Config, load_config, parse_config, redacted_view, with_overrides
from bot.config.load import check_token
from bot.errors import ConfigError, UserError

ROOT = Path(__file__).resolve().parents[2]


def problems_of(text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        parse_config(tomllib.loads(text))
    return info.value.problems


def test_example_file_equals_builtin_defaults() -> None:
    raw = tomllib.loads((ROOT / "config.example.toml").read_text())
    assert parse_config(raw) == Config()
    # Loaded from disk, relative paths resolve against the file's folder; the state file's
    # default is the user's state folder (the example leaves `path` commented out).
    example = load_config(ROOT / "config.example.toml")
    assert example.state.path == Config().state.path
    assert example.data.csv_dir == ROOT / "prices"


def test_no_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(None, environ={})
    assert config == Config()
    assert config.baskets[0].key == "chips"
    assert "SNDK" in config.baskets[0].tickers and "PLTR" in config.baskets[1].tickers
    assert config.tickers[-1] == "^GSPC"


def test_lookup_order_flag_then_env_then_cwd(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[benchmark]\nticker = "SPY"\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('[benchmark]\nticker = "QQQ"\n')
    flag_file = tmp_path / "flag.toml"
    flag_file.write_text('[benchmark]\nticker = "DIA"\n')
    assert load_config(None, environ={}).benchmark.ticker == "SPY"
    env = {"ROTABOT_CONFIG": str(env_file)}
    assert load_config(None, environ=env).benchmark.ticker == "QQQ"
    assert load_config(flag_file, environ=env).benchmark.ticker == "DIA"


def test_lookup_ends_in_the_user_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    user_file = tmp_path / "xdg-config" / "rotabot" / "config.toml"
    assert load_config(None, environ={}) == Config()  # no file anywhere: the defaults
    user_file.parent.mkdir(parents=True)
    user_file.write_text('[benchmark]\nticker = "QQQ"\n')
    assert load_config(None, environ={}).source_file == user_file
    (tmp_path / "config.toml").write_text('[benchmark]\nticker = "SPY"\n')
    assert load_config(None, environ={}).benchmark.ticker == "SPY"  # ./config.toml first


def test_state_file_defaults_to_the_xdg_state_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state-home"))
    expected = tmp_path / "state-home" / "rotabot" / "rotabot.db"
    assert Config().state.path == expected
    path = tmp_path / "c.toml"
    path.write_text('[benchmark]\nticker = "SPY"\n')  # a file that does not set state.path
    assert load_config(path).state.path == expected
    path.write_text('[state]\npath = "here.db"\n')
    assert load_config(path).state.path == tmp_path / "here.db"
    assert not (tmp_path / "state-home").exists()  # reading a config creates nothing


def test_values_are_typed_and_paths_resolved(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[data]\nsource = "csv"\ncsv_dir = "px"\nhistory_start = "2015-03-02"\n'
        '[state]\npath = "state/bot.db"\n'
        '[schedule]\ntime = "17:05"\n'
        "[telegram]\nchat_ids = [-100123, 42]\n"
        '[baskets.a]\nname = "A"\ntickers = ["x", "Y"]\nweights = [1, 3]\n'
        '[baskets.b]\ntickers = ["Z"]\n'
    )
    c = load_config(path)
    assert c.data.source == "csv" and c.data.csv_dir == tmp_path / "px"
    assert c.data.history_start == date(2015, 3, 2)
    assert c.state.path == tmp_path / "state" / "bot.db"
    assert c.schedule.time == time(17, 5)
    assert c.telegram.chat_ids == (-100123, 42)
    assert c.baskets[0].tickers == ("X", "Y") and c.baskets[0].weights == (1.0, 3.0)
    assert c.baskets[1].name == "b"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[telegrm]\n", "telegrm: unknown section, did you mean 'telegram'?"),
        (
            "[baskets.chips]\ntickers = []\n[baskets.p]\ntickers=['A']\n",
            "baskets.chips.tickers: must not be empty",
        ),
        (
            "[baskets.chips]\nname = 'c'\n[baskets.p]\ntickers=['A']\n",
            "baskets.chips.tickers: missing",
        ),
        (
            "[baskets.a]\ntickers = ['X', 'Y']\n[baskets.b]\ntickers = ['Y']\n",
            "baskets.b.tickers: Y also in baskets.a; the default pair a/b cannot have a ticker",
        ),
        (
            "[baskets.a]\ntickers = ['X', 'Y']\nweights = [1]\n[baskets.b]\ntickers = ['Z']\n",
            "baskets.a.weights: has 1 value(s) but tickers has 2",
        ),
        (
            "[baskets.a]\ntickers = ['X']\nweights = [0]\n[baskets.b]\ntickers = ['Z']\n",
            "baskets.a.weights: every weight must be greater than 0",
        ),
        ("[baskets.a]\ntickers = ['X']\n", "baskets: at least two baskets are needed"),
        (
            "[baskets.Chips]\ntickers = ['X']\n[baskets.b]\ntickers = ['Y']\n",
            "baskets.Chips: basket keys",
        ),
        ("[schedule]\ntimezone = 'Mars/Olympus'\n", "schedule.timezone: unknown time zone"),
        ("[schedule]\ntime = '25:00'\n", "schedule.time: must be a time like 16:30"),
        ("[schedule]\ncalendar = 'XNYZ'\n", "schedule.calendar: unknown exchange calendar"),
        ("[schedule]\ndeadline = '16:00'\n", "schedule.deadline: must be after schedule.time"),
        (
            "[schedule]\ntime = '09:00'\n",
            "schedule.time: 09:00 America/New_York is before the 16:00 close of ",
        ),
        (  # fine after a 16:00 close, before an early one's 13:00 (the nearer close)
            "[schedule]\ntime = '01:30'\n",
            "schedule.time: 01:30 America/New_York is before the 13:00 close of ",
        ),
        (  # 20:00 UTC in summer, but 21:00 UTC = 02:30 IST in winter
            "[schedule]\ntimezone = 'Asia/Kolkata'\ntime = '01:45'\ndeadline = '06:00'\n",
            "schedule.time: 01:45 Asia/Kolkata is before the 02:30 close of ",
        ),
        (
            "[telegram]\nchat_ids = [42, 18446744073709551616]\n",
            "telegram.chat_ids[1]: 18446744073709551616 does not fit in 64 bits",
        ),
        ("[telegram]\nchat_ids = [0]\n", "telegram.chat_ids[0]: 0 is not a Telegram id"),
        (
            "[telegram]\nallowed_user_ids = [-9223372036854775809]\n",
            "telegram.allowed_user_ids[0]: -9223372036854775809 does not fit in 64 bits",
        ),
        ("[schedule]\ncatch_up = 'some'\n", "schedule.catch_up: must be one of"),
        ("[data]\nsource = 'yahooo'\n", "did you mean 'yahoo'?"),
        ("[data]\nhistory_start = '2010-13-01'\n", "data.history_start: must be a date"),
        ("[data]\nsoruce = 'csv'\n", "data.soruce: unknown key, did you mean 'source'?"),
        ("[telegram]\nchat_ids = ['abc']\n", "telegram.chat_ids[0]: must be integer chat ids"),
        ("[telegram]\ntoken_env = '123:ABC-secret'\n", "telegram.token_env: must be the NAME"),
        ("[telegram]\ncharts = 'yes'\n", "telegram.charts: must be true or false"),
        ("[benchmark]\nticker = 'NVDA'\n", "benchmark.ticker: NVDA is a member of baskets.chips"),
        ("[signals]\nshock_alert = 9.0\n", "signals.shock_alert: thresholds must rise"),
        ("[signals]\nma_short = 300\n", "signals.ma_short: must be shorter"),
        ("[signals]\nmin_breadth = 1.5\n", "signals.min_breadth: is a share"),
        ("[signals]\nma_long = true\n", "signals.ma_long: must be an integer, got a boolean"),
        ("data = 3\n", "data: must be a table"),
    ],
)
def test_each_problem_names_its_dotted_path(text: str, expected: str) -> None:
    found = problems_of(text)
    assert any(expected in p for p in found), found


def test_every_problem_is_listed_at_once() -> None:
    found = problems_of("[telegrm]\n[schedule]\ntimezone = 'X/Y'\n[data]\nsource = 1\n")
    assert len(found) == 3
    assert [p.split(":")[0] for p in found] == ["telegrm", "data.source", "schedule.timezone"]


def test_bad_toml_and_missing_file_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nsource = ")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")


def test_redacted_view_never_holds_the_token() -> None:
    secret = "123456:AAAA-very-secret-token"
    view = redacted_view(Config(), {"ROTABOT_TELEGRAM_TOKEN": secret})
    assert secret not in repr(view)
    assert view["telegram"]["token"] == "set (redacted)"  # type: ignore[index]


def test_cli_overrides(tmp_path: Path) -> None:
    c = with_overrides(Config(), tmp_path)
    assert c.data.source == "csv" and c.data.csv_dir == tmp_path
    assert with_overrides(Config(), offline=True).data.refresh == "never"
    assert with_overrides(Config()) == Config()


THREE = (
    "[baskets.a]\ntickers = ['X', 'S']\n[baskets.b]\ntickers = ['Y', 'S']\n"
    "[baskets.c]\ntickers = ['Z']\n"
)


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ("['a/c', 'a/d']", "watch.pairs[1]: unknown basket 'd'"),
        ("['a/a']", "watch.pairs[0]: 'a/a' pairs a basket with itself"),
        ("['a/c', 'c/a']", "watch.pairs[1]: 'c/a' repeats watch.pairs[0] (either way round)"),
        ("['a/c', 'a/b']", "watch.pairs[1]: S sits on both sides of a/b"),
        ("['a-c']", "watch.pairs[0]: 'a-c' is not a pair"),
        ("[]", "watch.pairs: must not be empty"),
        (str([f"c/{k}" for k in ["a", "b"] * 51]), "watch.pairs: 102 pairs listed; at most 100"),
    ],
)
def test_bad_pairs_name_their_dotted_path(pairs: str, expected: str) -> None:
    found = problems_of(THREE + f"[watch]\npairs = {pairs}\n")
    assert any(p.startswith(expected) for p in found), found


def test_pairs_default_to_the_first_two_baskets_and_a_ticker_may_sit_in_several() -> None:
    config = parse_config(tomllib.loads(THREE.replace("'S']\n[baskets.c]", "'T']\n[baskets.c]")))
    assert [p.key for p in config.pairs] == ["a/b"]
    shared = parse_config(tomllib.loads(THREE + "[watch]\npairs = ['a/c', 'c/b']\nrrg_tail = 20\n"))
    assert [p.key for p in shared.pairs] == ["a/c", "c/b"]
    assert shared.watch.rrg_tail == 20
    assert shared.universe.basket_tickers == ("X", "S", "Y", "Z")  # S once, in file order


def test_watchlist_example_in_the_example_file_parses() -> None:
    """The commented-out watchlist of config.example.toml is valid once uncommented."""
    text = (ROOT / "config.example.toml").read_text()
    pieces = text.split("# --- example watchlist ---")
    out = [pieces[0]]
    for piece in pieces[1:]:
        example, rest = piece.split("# --- end of example ---")
        out.append("\n".join(line[2:] for line in example.splitlines()) + rest)
    config = parse_config(tomllib.loads("".join(out)))
    assert len(config.baskets) == 7
    assert [p.key for p in config.pairs][:2] == ["chips/platforms", "gpu/hyperscalers"]
    assert len(config.pairs) == 8


@pytest.mark.parametrize(
    ("schedule", "runs"),
    [
        ({"time": "16:00"}, time(16, 0)),  # right at the close
        ({"time": "00:30"}, time(0, 30)),  # after midnight, within 12 hours of every close
        ({"timezone": "Asia/Kolkata", "time": "02:30", "deadline": "06:00"}, time(2, 30)),
        ({"timezone": "Europe/London", "time": "22:00", "deadline": "23:30"}, time(22, 0)),
        ({"timezone": "UTC", "time": "21:30", "deadline": "23:00"}, time(21, 30)),
    ],
)
def test_a_run_time_after_every_close_is_accepted_in_any_zone(
    schedule: dict[str, str], runs: time
) -> None:
    assert parse_config({"schedule": schedule}).schedule.time == runs


def test_telegram_ids_at_the_64_bit_edges_are_accepted() -> None:
    ids = [-(2**63), 2**63 - 1, -1001234567890]
    assert parse_config({"telegram": {"chat_ids": ids}}).telegram.chat_ids == tuple(ids)


@pytest.mark.parametrize(
    ("token", "why"),
    [
        ("123456:ABC-def\nghi", "contains whitespace"),
        ("123456: ABCdef", "contains whitespace"),
        ("ABCDEF", "not digits, a colon"),
        ("123456:", "not digits, a colon"),
        ("12a:ABCdef", "not digits, a colon"),
        ("123456:ABC/def", "not digits, a colon"),
    ],
)
def test_a_token_of_the_wrong_shape_is_refused_without_showing_it(token: str, why: str) -> None:
    with pytest.raises(UserError) as info:
        check_token(token, "MY_TOKEN")
    message = str(info.value)
    assert message.startswith("$MY_TOKEN does not hold a Telegram bot token") and why in message
    assert "\n" not in message
    for piece in ("123456", "ABC", "def", "ghi"):
        assert piece not in message


def test_a_token_of_the_right_shape_passes() -> None:
    check_token("123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_-", "ROTABOT_TELEGRAM_TOKEN")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[state]\npth = 'x.db'\n", "state.pth: unknown key"),
        ("[signals]\nregime_band = 0\nregime_band_vol = 0\n", "signals.regime_band: must be"),
    ],
)
def test_state_keys_and_a_zero_regime_band_are_refused(text: str, expected: str) -> None:
    assert any(p.startswith(expected) for p in problems_of(text)), problems_of(text)


def test_check_config_prints_a_file_that_reads_back_as_the_same_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from bot.cli.main import main

    monkeypatch.setenv("HOOK_URL", "json://127.0.0.1:9/secret-part")
    first = tmp_path / "first.toml"
    first.write_text(
        "[telegram]\nchat_ids = [111, -222]\nmin_severity = 'severe'\n"
        "[[channels]]\nname = 'hook'\nurl_env = 'HOOK_URL'\n"
        "[signals]\nshock_severe = 4.5\n"
    )
    assert main(["--config", str(first), "check-config"]) == 0
    printed = capsys.readouterr().out
    assert "secret-part" not in printed and "# url: set (redacted)" in printed
    second = tmp_path / "elsewhere" / "second.toml"
    second.parent.mkdir()
    second.write_text(printed)
    a, b = load_config(first), load_config(second)
    # The same in effect: the printed file names the pairs the defaults implied.
    same = replace(a, source_file=None, watch=replace(a.watch, pairs=a.pairs))
    assert same == replace(b, source_file=None)
