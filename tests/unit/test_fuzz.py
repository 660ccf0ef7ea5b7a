"""Fuzzed input: whatever a user types or a file holds, rotabot answers with its own errors.

Property-based (hypothesis, derandomized so every run tries the same inputs) over the four
places user input enters: the config loader, the CSV price reader, the argument parsers of
the Telegram commands, and the command line. Each property says what may come out: a value,
or ``ConfigError``/``DataError``/``BadArguments``/``UserError`` with a message that names
where the problem is, or an exit status of 0, 1 or 2 without a traceback.

``KNOWN_CRASHES`` holds crashes found but not yet fixed, so the broad properties keep guarding
everything else while one is pinned by a ``strict`` xfail test; it is empty: every crash these
tests found has been fixed.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import fields
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, event, example, given, note, settings
from hypothesis import strategies as st

from bot.cli.main import build_parser, main
from bot.config import (
    Benchmark,
    Config,
    DataConfig,
    DetectorParams,
    ScheduleConfig,
    StateConfig,
    TelegramConfig,
    WatchConfig,
    load_config,
    parse_config,
)
from bot.config.load import SECTIONS
from bot.data.csv_source import CsvSource
from bot.errors import ConfigError, DataError, UserError
from bot.notify.notifiers import TextPart
from bot.render.messages import compose
from bot.render.replies import render_backtest, render_problem
from bot.telegram.app import COMMANDS, BadArguments, Command, Reply
from bot.telegram.service import BotService
from tests.fake_telegram import check_html, config_text, market_closes, write_market

FUZZ = settings(
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _crash(kind: type[BaseException], words: str) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, kind) and words in str(exc)


# Crashes found by these properties and not fixed yet (each pinned by a strict xfail test).
# All twelve found so far are fixed; their pinning tests now run as plain tests.
KNOWN_CRASHES: tuple[Callable[[BaseException], bool], ...] = ()


def known_crash(exc: BaseException) -> bool:
    known = any(match(exc) for match in KNOWN_CRASHES)
    if known:
        event(f"known crash: {type(exc).__name__}")
    return known


# --- 1. the config loader -----------------------------------------------------------------

KEYS = st.text(max_size=10)
SCALARS = st.one_of(
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 10**300]),
    st.floats(),  # NaN and both infinities included
    st.text(max_size=20),
    st.dates(),
    st.times(),
    st.datetimes(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=8,
)
TICKER_TEXT = st.sampled_from(
    ["AAA", "nvda", " MSFT ", "BRK.B", "^GSPC", "", "A" * 20, "<b>", "A&B", "ÄÖ", "*_`"]
) | st.text(max_size=6)
PLAUSIBLE = st.one_of(
    st.lists(TICKER_TEXT, max_size=5),
    st.lists(st.integers() | st.floats(), max_size=5),
    st.sampled_from(
        [
            "csv", "yahoo", "auto", "never", "latest", "all", "none", "XNYS", "XLON",
            "America/New_York", "UTC", "16:30", "20:00", "24:00", "9:5", "2010-01-01",
            "2010-02-30", "ROTABOT_TELEGRAM_TOKEN", "123:abc", "http://127.0.0.1/bot", "ftp://x",
            "prices", "../state/db", "",
        ]
    ),
)  # fmt: skip
KNOWN_KEYS: dict[str, tuple[str, ...]] = {
    name: tuple(f.name for f in fields(cls))
    for name, cls in (
        ("data", DataConfig),
        ("state", StateConfig),
        ("benchmark", Benchmark),
        ("telegram", TelegramConfig),
        ("schedule", ScheduleConfig),
        ("signals", DetectorParams),
        ("watch", WatchConfig),
    )
}
BASKET = st.fixed_dictionaries(
    {"tickers": st.lists(TICKER_TEXT, max_size=4) | VALUES},
    optional={
        "name": st.text(max_size=12) | VALUES,
        "weights": st.lists(st.integers() | st.floats(), max_size=4) | VALUES,
        "wieghts": VALUES,
    },
)
BASKETS = st.dictionaries(
    st.sampled_from(["chips", "platforms"]) | KEYS, BASKET | VALUES, max_size=4
)


def _section(name: str) -> st.SearchStrategy[tuple[str, object]]:
    if name == "baskets":
        body: st.SearchStrategy[object] = BASKETS
    else:
        body = st.dictionaries(
            st.sampled_from(KNOWN_KEYS.get(name, ("enabled", "checks", "threshold"))) | KEYS,
            VALUES | PLAUSIBLE,
            max_size=6,
        )
    return st.tuples(st.just(name), body | VALUES)


DOCUMENTS = st.lists(
    st.sampled_from(SECTIONS).flatmap(_section) | st.tuples(KEYS, VALUES), max_size=7
).map(dict)


def _assert_problems_have_paths(problems: tuple[str, ...], raw: dict[str, object]) -> None:
    """Every problem starts with a dotted path rooted at a key of the document."""
    assert problems
    roots = {*raw, *SECTIONS}
    for problem in problems:
        assert any(
            problem.startswith(root) and problem[len(root) : len(root) + 1] in (".", "[", ":")
            for root in roots
        ), problem
        assert ": " in problem and problem.split(": ", 1)[1].strip(), problem


@FUZZ
@given(raw=DOCUMENTS)
def test_parse_config_returns_a_config_or_lists_problems_with_paths(raw: dict[str, object]) -> None:
    try:
        config = parse_config(raw)
    except ConfigError as exc:
        _assert_problems_have_paths(exc.problems, raw)
        assert str(exc).startswith("configuration: ")
    except Exception as exc:
        if not known_crash(exc):
            raise
    else:
        assert isinstance(config, Config) and len(config.baskets) == 2


def _kind(section: str, key: str) -> str:
    """Return the TOML type a known key wants: str, bool, int, number or ints."""
    cls = {
        "data": DataConfig, "state": StateConfig, "benchmark": Benchmark,
        "telegram": TelegramConfig, "schedule": ScheduleConfig, "signals": DetectorParams,
        "watch": WatchConfig,
    }[section]  # fmt: skip
    if (section, key) == ("watch", "pairs"):
        return "strs"
    default = getattr(cls(), key)
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "number"
    if isinstance(default, tuple):
        return "ints"
    return "str"  # strings, paths, dates and clock times are all written as TOML strings


def _accepts(kind: str, value: object) -> bool:
    def is_int(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    return {
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": is_int(value),
        "number": is_int(value) or isinstance(value, float),
        "ints": isinstance(value, list) and all(is_int(v) for v in value),
        "strs": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }[kind]


KNOWN_FIELDS = [(s, k) for s, keys in KNOWN_KEYS.items() for k in keys]


@FUZZ
@given(where=st.sampled_from(KNOWN_FIELDS), value=VALUES)
def test_a_wrong_type_at_any_known_key_is_reported_at_that_key(
    where: tuple[str, str], value: object
) -> None:
    section, key = where
    assume(not _accepts(_kind(section, key), value))
    with pytest.raises(ConfigError) as info:
        parse_config({section: {key: value}})
    assert any(re.match(rf"{section}\.{key}(\[\d+\])?: ", p) for p in info.value.problems), (
        info.value.problems
    )


@FUZZ
@given(
    field=st.sampled_from(["name", "tickers", "weights"]),
    value=VALUES,
)
def test_a_wrong_type_in_a_basket_is_reported_at_that_key(field: str, value: object) -> None:
    want = {
        "name": lambda v: isinstance(v, str),
        "tickers": lambda v: isinstance(v, list) and all(isinstance(t, str) for t in v),
        "weights": lambda v: (
            isinstance(v, list)
            and all(isinstance(w, int | float) and not isinstance(w, bool) for w in v)
        ),
    }[field]
    assume(not want(value))
    basket: dict[str, object] = {"tickers": ["AAA"], field: value}
    raw = {"baskets": {"a": basket, "b": {"tickers": ["BBB"]}}}
    with pytest.raises(ConfigError) as info:
        parse_config(raw)
    assert any(re.match(rf"baskets\.a\.{field}(\[\d+\])?: ", p) for p in info.value.problems)


def _toml_value(value: object) -> str:
    """Write ``value`` as TOML (inline tables and arrays), the way a user could type it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    assert isinstance(value, dict)
    return "{" + ", ".join(f"{_toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"


def _toml_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml(raw: dict[str, object]) -> str:
    return "".join(f"{_toml_string(k)} = {_toml_value(v)}\n" for k, v in raw.items())


def _load_outcome(path: Path) -> Config | ConfigError | None:
    """Return what load_config gives for ``path``; None for a known crash."""
    try:
        return load_config(path)
    except ConfigError as exc:
        assert exc.source == str(path)  # the message names the file
        return exc
    except Exception as exc:
        if known_crash(exc):
            return None
        raise


@FUZZ
@given(raw=DOCUMENTS, cut=st.integers(min_value=0), junk=st.text(max_size=3))
def test_config_files_valid_or_damaged_load_or_raise_config_error(
    tmp_path: Path, raw: dict[str, object], cut: int, junk: str
) -> None:
    text = _toml(raw)
    assert tomllib.loads(text).keys() == raw.keys()  # the writer above writes real TOML
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    outcome = _load_outcome(path)
    if isinstance(outcome, ConfigError):
        _assert_problems_have_paths(outcome.problems, raw)
    # The same file damaged: cut short and with a few random characters spliced in.
    at = cut % (len(text) + 1)
    path.write_text(text[:at] + junk + text[at : at + len(text) // 2], encoding="utf-8")
    _load_outcome(path)


TOMLISH = st.lists(
    st.sampled_from([*"[]{}=\".,'\n #\\tx1e+-_:é\x00", "data", "baskets", "true", "nan"]),
    max_size=40,
).map("".join)


@FUZZ
@given(content=st.binary(max_size=200) | TOMLISH.map(lambda s: s.encode("utf-8")))
def test_config_files_of_random_bytes_raise_config_error_naming_the_file(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    _load_outcome(path)


def test_a_config_folder_instead_of_a_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "config.toml").mkdir()
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "config.toml")


@pytest.mark.parametrize(
    "text",
    [
        "[signals]\nshock_info = 1" + "0" * 400,
        '[baskets.a]\ntickers = ["A"]\nweights = [1' + "0" * 400 + "]\n"
        '[baskets.b]\ntickers = ["B"]',
    ],
    ids=["number", "weights"],
)
def test_config_huge_integer_where_a_number_is_wanted(text: str) -> None:
    # Reader.number and Reader.list_of(float) call float(int) on a 400-digit TOML integer.
    with pytest.raises(ConfigError, match=r"signals\.shock_info|baskets\.a\.weights"):
        parse_config(tomllib.loads(text))


@pytest.mark.parametrize("key", ["state.path", "data.csv_dir"])
def test_config_path_of_an_unknown_users_home(key: str) -> None:
    # config._path calls Path.expanduser(), which raises RuntimeError for ~no-such-user.
    section, name = key.split(".")
    with pytest.raises(ConfigError, match=re.escape(key)):
        parse_config({section: {name: "~no-such-user-rotabot/rotabot.db"}})


@pytest.mark.parametrize(
    "zone", ["America", "Europe", "a" * 300], ids=["America", "Europe", "long"]
)
def test_config_time_zone_naming_a_folder_or_too_long(zone: str) -> None:
    # config._schedule catches ZoneInfoNotFoundError and ValueError, but ZoneInfo("America")
    # raises IsADirectoryError and a 300-character name "File name too long" (both OSError).
    with pytest.raises(ConfigError, match=r"schedule\.timezone"):
        parse_config({"schedule": {"timezone": zone}})


def test_config_file_nested_too_deep(tmp_path: Path) -> None:
    # tomllib recurses once per nesting level; load_config does not catch RecursionError.
    path = tmp_path / "config.toml"
    path.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"config\.toml"):
        load_config(path)


@pytest.mark.parametrize("key", ["min_breadth", "max_benchmark_share", "regime_band"])
def test_config_nan_threshold_is_refused(key: str) -> None:
    # nan < minimum is False, so NaN passes every range check and silently disables a gate.
    with pytest.raises(ConfigError, match=rf"signals\.{key}"):
        parse_config({"signals": {key: math.nan}})


# --- 2. the CSV price reader --------------------------------------------------------------

DATE_CELLS = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(
        [
            "", " ", "2024-02-30", "2024-13-01", "24-01-02", "2024/01/02", "20240102",
            "0001-01-01", "9999-12-31", "2262-04-12", "1677-09-21", "nan", " 2024-01-02 ",
        ]
    ),
    st.text(max_size=12),
)  # fmt: skip
NUMBER_CELLS = st.one_of(
    st.floats().map(repr),
    st.floats(min_value=1e-6, max_value=1e6).map(lambda v: f"{v:.6f}"),
    st.integers().map(str),
    st.sampled_from(
        [
            "", " ", "nan", "NaN", "inf", "-inf", "1e999", "-0", "0", "1_000", "0x10", "1,5",
            "9" * 400, "True", "N/A", "null", "\u22121", "١٢", " 12.5 ", '"12.5"',
        ]
    ),
    st.text(max_size=8),
)  # fmt: skip
COLUMNS = st.sampled_from(
    ["date", "open", "high", "low", "close", "adj_close", "volume", " Date ", "ADJ_CLOSE", "x"]
) | st.text(max_size=8)


@st.composite
def csv_files(draw: st.DrawFn) -> str:
    """A price file with a random header and rows of plausible and implausible cells."""
    header = draw(st.lists(COLUMNS, max_size=8))
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=8))):
        cells = [draw(DATE_CELLS if c.strip().lower() == "date" else NUMBER_CELLS) for c in header]
        cells += draw(st.lists(NUMBER_CELLS, max_size=1))  # a stray extra field, sometimes
        rows.append(",".join(cells))
    return "\n".join([",".join(header), *rows]) + draw(st.sampled_from(["", "\n", "\r\n"]))


def _fetch(folder: Path, start: date = date(1900, 1, 1)) -> object:
    """Return the panel read from ``folder/T.csv``, the DataError, or None for a known crash."""
    try:
        return CsvSource(folder).fetch(["T"], start)
    except DataError as exc:
        message = str(exc)
        path = str(folder / "T.csv")
        assert path in message, message  # names the file
        line = re.match(re.escape(path) + r":(\d+):", message)
        if line:  # and, when it points at a line, one the file has
            lines = (folder / "T.csv").read_bytes().count(b"\n") + 1
            assert 1 <= int(line[1]) <= lines, message
        return exc
    except Exception as exc:
        if known_crash(exc):
            return None
        raise


def _check_panel(panel: object) -> None:
    from bot.core.panel import PricePanel

    if not isinstance(panel, PricePanel):
        return
    assert panel.tickers == ["T"]
    assert panel.dates.is_monotonic_increasing and panel.dates.is_unique
    prices = panel.adj_close["T"].dropna()
    assert (prices > 0).all()


@FUZZ
@given(content=st.binary(max_size=300))
def test_csv_of_random_bytes_gives_a_panel_or_a_data_error(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "T.csv").write_bytes(content)
    _check_panel(_fetch(tmp_path))


@FUZZ
@example(text="date,adj_close\n2024-01-02,1\n2024-01-02,2\n")
@example(text="date,adj_close\n2024-01-02,-1\n")
@example(text="Date,Adj_Close\n2024-01-02,1.5\n")
@given(text=csv_files())
def test_csv_of_random_rows_gives_a_panel_or_a_data_error(tmp_path: Path, text: str) -> None:
    (tmp_path / "T.csv").write_text(text, encoding="utf-8")
    _check_panel(_fetch(tmp_path))


@FUZZ
@given(
    days=st.lists(
        st.dates(min_value=date(1990, 1, 1), max_value=date(2040, 12, 31)),
        min_size=1,
        max_size=25,
        unique=True,
    ).flatmap(lambda d: st.permutations(sorted(d))),
    prices=st.lists(st.floats(min_value=0.01, max_value=1e6), min_size=25, max_size=25),
    repeat=st.booleans(),
)
def test_csv_with_shuffled_dates_reads_only_when_in_order(
    tmp_path: Path, days: list[date], prices: list[float], repeat: bool
) -> None:
    if repeat:
        days = [*days, days[-1]]  # a duplicated last row
    rows = [f"{d},,,,,{p:.4f},100" for d, p in zip(days, prices, strict=False)]
    (tmp_path / "T.csv").write_text("date,open,high,low,close,adj_close,volume\n" + "\n".join(rows))
    outcome = _fetch(tmp_path)
    in_order = all(days[i] > days[i - 1] for i in range(1, len(days)))
    if in_order:
        assert not isinstance(outcome, Exception)
        _check_panel(outcome)
        assert [d.date() for d in outcome.dates] == days  # type: ignore[attr-defined]
        want = [round(p, 4) for p in prices[: len(days)]]
        assert outcome.adj_close["T"].tolist() == pytest.approx(want)  # type: ignore[attr-defined]
    else:
        assert isinstance(outcome, DataError)
        # The line named is one at fault: its date repeats or goes back from the line above.
        found = re.search(r"T\.csv:(\d+): (duplicate date|dates not sorted)", str(outcome))
        assert found, str(outcome)
        i = int(found[1]) - 2
        assert 1 <= i < len(days)
        assert (days[i] == days[i - 1]) == (found[2] == "duplicate date")
        assert days[i] <= days[i - 1]


@pytest.mark.parametrize(
    "header", ["date,Date,adj_close", "date,adj_close,Adj_Close", "date,adj_close,close,CLOSE"]
)
def test_csv_two_columns_differing_only_in_case(tmp_path: Path, header: str) -> None:
    # read_price_csv lower-cases the header, so raw["date"] becomes a DataFrame and .str fails.
    row = ",".join(["2024-01-02"] + ["1"] * header.count(","))
    (tmp_path / "T.csv").write_text(f"{header}\n{row}\n")
    with pytest.raises(DataError, match=r"T\.csv:1: "):
        CsvSource(tmp_path).fetch(["T"], date(2024, 1, 1))


@pytest.mark.parametrize("cell", ["inf", "1e999", "9" * 400])
def test_csv_infinite_price_is_refused(tmp_path: Path, cell: str) -> None:
    # read_price_csv only checks adj_close > 0; an infinite price passes into the returns.
    (tmp_path / "T.csv").write_text(f"date,adj_close\n2024-01-02,1\n2024-01-03,{cell}\n")
    with pytest.raises(DataError, match=r"T\.csv:3: "):
        CsvSource(tmp_path).fetch(["T"], date(2024, 1, 1))


# --- 3. the Telegram commands' arguments --------------------------------------------------

ARGUMENT = st.one_of(
    st.text(max_size=15),
    st.dates().map(date.isoformat),
    st.dates().map(lambda d: d.strftime("%Y%m%d")),
    st.integers().map(str),
    st.integers(min_value=-10, max_value=6000).map(str),
    st.sampled_from(
        [
            "", " ", "0", "-1", "1", "20", "365", "366", "5000", "5001", "999999", "9" * 40,
            "٣٠", "\uff11\uff12", "2024-08-12", "2024-08-09", "2024-08-10", "2024-13-45",
            "2024-W33-1", "0001-01-01", "9999-12-31", "rs_trend", "k=v", "window=<b>", "-x=1",
            "a=", "=1", "<script>alert(1)</script>", "&amp;", "*bold*", "_it_", "`code`",
        ]
    ),
)  # fmt: skip
ARGUMENTS = st.lists(ARGUMENT, max_size=4)
# Examples per command: the handlers that ignore their arguments, or render a chart for
# each accepted one, need few; the parsers need many.
BUDGET = {"status": 10, "rrg": 8, "chart": 30, "signal": 50}
FIXED_NOW = datetime(2024, 8, 13, 12, 0, tzinfo=UTC)


class FuzzService(BotService):
    """The real BotService over the synthetic market, but /backtest does not start a process.

    A child process per example would take seconds; test_telegram covers the real path.
    """

    def backtest(self, strategy: str, params: list[str]) -> dict[str, object] | None:
        return {"strategy": strategy, "start": "2024-01-02", "end": "2024-08-12", "metrics": {}}


@pytest.fixture
def service(tmp_path: Path) -> BotService:
    prices = write_market(tmp_path / "prices")
    (tmp_path / "config.toml").write_text(config_text(prices, "http://127.0.0.1:9/bot"))
    return FuzzService(load_config(tmp_path / "config.toml"), clock=lambda: FIXED_NOW)


def _sendable(text: str, png: bytes | None = None, caption: str = "") -> None:
    """Assert Telegram would take what the bot sends for this text (valid HTML, in limits)."""
    for part in compose(text, png, "chart.png", caption):
        if isinstance(part, TextPart):
            problem = check_html(part.text, 4096)
        else:
            problem = check_html(part.caption or "", 1024)
        assert problem is None, (problem, part)


@pytest.mark.parametrize("command", COMMANDS, ids=[c.name for c in COMMANDS])
def test_every_command_replies_or_refuses_its_arguments(
    command: Command, service: BotService
) -> None:
    usage = f"/{command.name} {command.usage}".strip()

    @settings(FUZZ, max_examples=BUDGET.get(command.name, 100))
    @given(args=ARGUMENTS)
    def check(args: list[str]) -> None:
        try:
            reply = asyncio.run(command.handler(service, 111, list(args)))
        except BadArguments as exc:
            assert str(exc)
            _sendable(render_problem(str(exc), usage))
        except UserError as exc:
            assert str(exc)
            _sendable(render_problem(str(exc)))
        else:
            assert isinstance(reply, Reply)
            assert reply.text or reply.png
            _sendable(reply.text or reply.caption, reply.png, reply.caption)
            if reply.png is not None:
                assert reply.png.startswith(b"\x89PNG")

    check()


def test_argument_parsers_keep_their_bounds(service: BotService) -> None:
    """The edges the fuzzing relies on: both bounds accepted, one past them refused."""
    chart = {c.name: c for c in COMMANDS}["chart"]
    mute = {c.name: c for c in COMMANDS}["mute"]
    for days in ("20", "5000"):
        assert asyncio.run(chart.handler(service, 111, [days])).png is not None
    for days in ("19", "5001", "-5", "1e3"):
        with pytest.raises(BadArguments):
            asyncio.run(chart.handler(service, 111, [days]))
    until = FIXED_NOW + timedelta(days=365)
    assert until.strftime("%Y-%m-%d") in asyncio.run(mute.handler(service, 111, ["365"])).text
    with pytest.raises(BadArguments):
        asyncio.run(mute.handler(service, 111, ["366"]))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)


@FUZZ
@given(
    result=st.fixed_dictionaries(
        {},
        optional={
            "strategy": JSON,
            "start": JSON,
            "end": JSON,
            "metrics": st.dictionaries(st.sampled_from(["cagr", "sharpe", "max_drawdown"]), JSON)
            | JSON,
            "benchmarks": st.dictionaries(st.text(max_size=30), JSON, max_size=3) | JSON,
        },
    )
)
def test_any_backtest_result_renders_as_valid_html(result: dict[str, object]) -> None:
    # /backtest shows whatever JSON the backtest child process printed.
    _sendable(render_backtest(result))


# --- 4. the command line ------------------------------------------------------------------

GLOBAL = st.sampled_from(
    [
        [], ["--offline"], ["--log-level", "DEBUG"], ["--log-format", "json"],
        ["--log-level", "LOUD"], ["--log-format"], ["--prices-dir", "nowhere"],
        ["--prices-dir", "\x00"], ["--prices-dir", ""], ["--version"], ["-h"],
    ]
)  # fmt: skip
CLI_DATE = st.one_of(
    st.sampled_from(["2024-08-12", "2024-08-09", "2024-08-10", "2024-01-02", "2023-12-29"]),
    st.dates(min_value=date(2023, 12, 1), max_value=date(2024, 9, 1)).map(date.isoformat),
    st.dates().map(date.isoformat),
    st.sampled_from(["2024-13-01", "yesterday", "", "-1"]),
    st.text(max_size=10),
)
CLI_WORD = st.one_of(st.text(max_size=10), st.sampled_from(["--format", "json", "--bogus", "-"]))
COMMAND_LINES = st.one_of(
    st.tuples(st.just(["signal"]), st.lists(st.sampled_from(["--send", "--format"]), max_size=2)),
    st.tuples(st.just(["signal", "--asof"]), st.lists(CLI_DATE, min_size=1, max_size=1)),
    st.tuples(
        st.just(["replay"]),
        st.lists(st.sampled_from(["--start", "--end"]) | CLI_DATE, min_size=0, max_size=5),
    ),
    st.tuples(
        st.just(["daemon"]),
        st.lists(st.sampled_from(["--simulate-from", "--simulate-to"]) | CLI_DATE, max_size=4),
    ),
    st.tuples(st.sampled_from([["prices", "show"], ["prices"]]), st.lists(CLI_WORD, max_size=3)),
    st.tuples(
        st.just(["prices", "show", "AAA", "--tail"]), st.lists(st.integers().map(str), max_size=1)
    ),
    st.tuples(
        st.sampled_from([["check-config"], ["status"], ["serve"], ["prices", "update"], []]),
        st.lists(CLI_WORD, max_size=2),
    ),
    st.tuples(st.just([]), st.lists(CLI_WORD, min_size=1, max_size=4)),
)
STRATEGY = st.sampled_from(
    ["rs_trend", "rs_momentum", "rrg", "dual_momentum", "shock_fade", "shock_follow", "nope", ""]
)
PARAM_VALUE = st.one_of(
    st.integers(min_value=-5, max_value=300).map(str),
    st.integers().map(str),
    st.floats().map(repr),
    st.sampled_from(
        [
            "0",
            "2",
            "20",
            "0.02",
            "nan",
            "inf",
            "1e400",
            "quadrant",
            "<b>",
            "",
            "9" * 20,
            "-" + "9" * 20,
        ]
    ),
    st.text(max_size=6),
)
PARAM_KEY = st.sampled_from(
    ["window", "band", "confirm", "lookback", "rebalance", "margin", "hold", "min_score", "rule"]
) | st.text(max_size=5)
BACKTEST_LINES = st.tuples(
    STRATEGY.map(lambda name: ["backtest", "--strategy", name]),
    st.lists(st.tuples(PARAM_KEY, PARAM_VALUE), max_size=2).map(
        lambda pairs: [x for k, v in pairs for x in ("--param", f"{k}={v}")]
    ),
)
COMMAND_LINES = COMMAND_LINES | BACKTEST_LINES
MAX_REHEARSAL = timedelta(days=7)  # a rehearsal runs every session of its range


def _runs_forever_or_long(argv: list[str]) -> bool:
    """True for command lines that legitimately run a long time: a live daemon, a big
    rehearsal, a sweep over a grid."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        return False
    if args.command == "sweep":
        return True
    if args.command != "daemon":
        return False
    start, end = args.simulate_from, args.simulate_to
    if start is None and end is None:
        return True  # the live daemon
    return start is not None and end is not None and end - start > MAX_REHEARSAL


@settings(FUZZ, max_examples=80)
@example(
    head=[], line=(["daemon", "--simulate-from", "2024-08-08", "--simulate-to"], ["2024-08-12"])
)
@example(head=["--log-format", "json"], line=(["signal", "--send"], []))
@example(head=[], line=(["replay", "--start", "2024-08-12", "--end"], ["2024-01-02"]))
@given(head=GLOBAL, line=COMMAND_LINES)
def test_the_command_line_exits_0_1_or_2_never_with_a_traceback(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    head: list[str],
    line: tuple[list[str], list[str]],
) -> None:
    config = tmp_path / "config.toml"
    if not config.exists():
        prices = write_market(tmp_path / "prices", market_closes(sessions=120))
        config.write_text(config_text(prices, "http://127.0.0.1:9/bot"))
    argv = ["--config", str(config), *head, *line[0], *line[1]]
    assume(not _runs_forever_or_long(argv))
    note(repr(argv))
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse: 2 for a usage error, 0 for --help and --version
        code = exc.code
        assert code in (0, 2)
    except Exception as exc:
        if known_crash(exc):
            return
        raise
    out, err = capsys.readouterr()
    event(f"{line[0][:1]} exit {code}")
    assert "Traceback" not in out + err
    assert code in (0, 1, 2)
    if code == 2:
        assert "error: " in err  # argparse's or rotabot's one clear line


@settings(FUZZ, max_examples=60)
@given(line=BACKTEST_LINES)
def test_backtest_parameters_exit_0_or_2_never_with_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: tuple[list[str], list[str]]
) -> None:
    config = tmp_path / "config.toml"
    if not config.exists():
        prices = write_market(tmp_path / "prices", market_closes(sessions=120))
        config.write_text(config_text(prices, "http://127.0.0.1:9/bot"))
    capsys.readouterr()
    try:
        code = main(["--config", str(config), *line[0], *line[1]])
    except Exception as exc:
        if known_crash(exc):
            return
        raise
    out, err = capsys.readouterr()
    event(f"exit {code}")
    assert code in (0, 2) and "Traceback" not in out + err
    if code == 2:
        assert err.startswith("rotabot: error: ") and len(err.splitlines()) == 1, err


def test_a_state_path_that_cannot_be_created_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prices = write_market(tmp_path / "prices")
    (tmp_path / "taken").write_text("a file where the state folder should be")
    config = tmp_path / "config.toml"
    text = config_text(prices, "http://127.0.0.1:9/bot")
    config.write_text(text.replace('"state/rotabot.db"', '"taken/rotabot.db"'))
    assert main(["--config", str(config), "signal", "--send"]) == 2
    assert "taken" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["9" * 20, "-" + "9" * 20])
def test_backtest_integer_parameter_beyond_64_bits_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str
) -> None:
    prices = write_market(tmp_path / "prices", market_closes(sessions=120))
    config = tmp_path / "config.toml"
    config.write_text(config_text(prices, "http://127.0.0.1:9/bot"))
    argv = ["--config", str(config), "backtest", "--strategy", "shock_fade"]
    assert main([*argv, "--param", f"hold={value}"]) == 2
    assert "hold" in capsys.readouterr().err
