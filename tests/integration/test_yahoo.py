"""YahooSource through the real yfinance library, against the fake Yahoo in tests/fake_yahoo.py;
and against no Yahoo at all: a refused connection and a silent server, both on loopback."""

from __future__ import annotations

import logging
import socket
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

# Imported here, not first inside a test: yfinance's import installs a warnings filter that
# would otherwise take precedence over this module's filterwarnings mark for that test.
import yfinance  # noqa: F401

from bot.core.panel import FIELDS
from bot.data.cache import CachedSource
from bot.data.checks import Rules
from bot.data.yahoo import YahooRateLimited, YahooSource, YahooUnreachable
from bot.data.yahoo_log import yfinance_log_summary
from bot.errors import DataUnavailable
from bot.store.db import connect
from tests.fake_yahoo import FakeYahoo, make_bars

pytestmark = [
    pytest.mark.integration,
    # yfinance 1.7 still uses pandas' deprecated inplace= keywords; not ours to fix.
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]


def _sessions(first: str, last: str) -> list[str]:
    """NYSE sessions between two days of early 2024 (weekdays less MLK and Presidents' Day)."""
    days = pd.bdate_range(first, last, freq="C", holidays=["2024-01-15", "2024-02-19"])
    return [d.strftime("%Y-%m-%d") for d in days]


JANUARY = _sessions("2024-01-02", "2024-01-19")
WINTER = _sessions("2024-01-02", "2024-02-29")
CLOSES = {"AAA": 10.0, "BBB": 20.0, "CCC": 30.0}
BACKOFF = 0.5
RATE_BACKOFF = 7.0


@dataclass
class Sleeps:
    """Stands in for time.sleep: records each delay and how many requests the fake had seen."""

    fake: FakeYahoo
    delays: list[float] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.marks.append(len(self.fake.received))


@pytest.fixture
def fake() -> FakeYahoo:
    fake = FakeYahoo()
    for ticker, base in CLOSES.items():
        fake.add(ticker, make_bars(JANUARY, base + np.arange(len(JANUARY))))
    return fake


@pytest.fixture
def sleeps(fake: FakeYahoo) -> Sleeps:
    return Sleeps(fake)


@pytest.fixture
def source(fake: FakeYahoo, sleeps: Sleeps, tmp_path: Path) -> YahooSource:
    return YahooSource(
        tmp_path / "cache",
        session=fake.session(),
        backoff=BACKOFF,
        rate_limit_backoff=RATE_BACKOFF,
        sleep=sleeps,
        timeout=5,
    )


@pytest.fixture
def state(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    conn = connect(tmp_path / "state.db")
    yield conn
    conn.close()


# -- YahooSource ------------------------------------------------------------------------------


def test_batched_fetch_returns_the_panel(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps
) -> None:
    panel = source.fetch(["CCC", "AAA", "BBB"], date(2024, 1, 3), date(2024, 1, 10))

    assert panel.tickers == ["CCC", "AAA", "BBB"]
    expected_dates = [
        "2024-01-03",
        "2024-01-04",
        "2024-01-05",
        "2024-01-08",
        "2024-01-09",
        "2024-01-10",
    ]
    assert list(panel.dates) == [pd.Timestamp(d) for d in expected_dates]  # end is inclusive
    assert panel.dates.name == "date" and panel.dates.tz is None
    for ticker in ("AAA", "BBB", "CCC"):
        bars = fake.bars(ticker).loc["2024-01-03":"2024-01-10"]
        for f in FIELDS:
            column = panel.field(f)[ticker]
            assert column.dtype == np.float64
            np.testing.assert_allclose(column.to_numpy(), bars[f].to_numpy(), err_msg=f)
        assert (panel.close[ticker] != panel.adj_close[ticker]).all()  # as traded vs adjusted
    asked = fake.history_requests()
    assert sorted(r.chart_ticker or "" for r in asked) == ["AAA", "BBB", "CCC"]
    assert {(r.period1, r.period2) for r in asked} == {(date(2024, 1, 3), date(2024, 1, 11))}
    assert sleeps.delays == []


def test_rate_limited_ticker_is_retried_alone(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps
) -> None:
    # yfinance retries a 429 once by itself, so two are needed to make a download fail.
    fake.rate_limit("BBB", 2)

    panel = source.fetch(["AAA", "BBB", "CCC"], date(2024, 1, 2), date(2024, 1, 19))

    assert sleeps.delays == [RATE_BACKOFF]  # a rate limit waits longer than other failures
    assert fake.chart_tickers(since=sleeps.marks[0]) == {"BBB"}
    assert any(r.is_history for r in fake.received[sleeps.marks[0] :])
    assert len(fake.history_requests("AAA")) == len(fake.history_requests("CCC")) == 1
    np.testing.assert_allclose(panel.close["BBB"].to_numpy(), fake.bars("BBB")["close"])
    assert not panel.adj_close.isna().any().any()


def test_unknown_ticker_raises_after_growing_backoff(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps
) -> None:
    with pytest.raises(DataUnavailable, match="NOPE") as caught:
        source.fetch(["AAA", "NOPE"], date(2024, 1, 2), date(2024, 1, 19))

    assert caught.value.missing == ("NOPE",)
    assert "AAA" not in str(caught.value)
    assert sleeps.delays == [BACKOFF, 2 * BACKOFF, 4 * BACKOFF]
    assert fake.chart_tickers(since=sleeps.marks[0]) == {"NOPE"}
    assert len(fake.history_requests("AAA")) == 1


def test_partial_answer_comes_back_as_nan(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps
) -> None:
    fake.end_early("CCC", date(2024, 1, 5))

    panel = source.fetch(["AAA", "CCC"], date(2024, 1, 3), date(2024, 1, 10))

    ccc = panel.adj_close["CCC"]
    assert ccc.loc["2024-01-03":"2024-01-05"].notna().all()
    assert ccc.loc["2024-01-08":"2024-01-10"].isna().all()
    assert panel.adj_close["AAA"].notna().all()
    assert panel.last_valid()["CCC"] == pd.Timestamp("2024-01-05")
    assert sleeps.delays == []  # completeness against the calendar is not the source's job


def test_yfinance_caches_live_in_the_given_folder(
    fake: FakeYahoo, sleeps: Sleeps, tmp_path: Path
) -> None:
    for name in ("first", "second"):
        source = YahooSource(tmp_path / name, session=fake.session(), sleep=sleeps)
        source.fetch(["AAA"], date(2024, 1, 2), date(2024, 1, 5))

        assert source.yfinance_cache == tmp_path / name / "yfinance"
        assert (source.yfinance_cache / "tkr-tz.db").is_file()


def test_yfinance_exception_becomes_data_unavailable(
    fake: FakeYahoo, sleeps: Sleeps, tmp_path: Path
) -> None:
    session = fake.session()
    # yfinance refuses caching sessions (e.g. requests_cache) by raising from yf.download.
    setattr(session, "cache", object())  # noqa: B010 - requests.Session has no such attribute
    source = YahooSource(tmp_path / "cache", session=session, sleep=sleeps)

    with pytest.raises(DataUnavailable, match="AAA") as caught:
        source.fetch(["AAA"], date(2024, 1, 2), date(2024, 1, 5))

    assert caught.value.missing == ("AAA",)
    assert caught.value.__cause__ is not None
    assert fake.history_requests() == []  # only the reachability check went out


def test_rate_limit_to_the_end_says_so_never_delisted(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    fake.rate_limit("BBB", 100)

    with caplog.at_level(logging.WARNING), pytest.raises(YahooRateLimited) as caught:
        source.fetch(["AAA", "BBB"], date(2024, 1, 2), date(2024, 1, 19))

    assert caught.value.missing == ("BBB",)
    assert "HTTP 429" in str(caught.value) and "--prices-dir DIR or --offline" in str(caught.value)
    assert sleeps.delays == [RATE_BACKOFF, 2 * RATE_BACKOFF, 4 * RATE_BACKOFF]
    said = caplog.text + str(caught.value)
    assert "delisted" not in said
    assert said.count("rate limiting") == 3  # one warning per wait, saying why it waits


def test_connection_lost_mid_download_fails_at_once(
    source: YahooSource, fake: FakeYahoo, sleeps: Sleeps
) -> None:
    for ticker in CLOSES:
        fake.time_out(ticker, 100)

    with pytest.raises(YahooUnreachable, match="no answer within 5 s") as caught:
        source.fetch(list(CLOSES), date(2024, 1, 2), date(2024, 1, 19))

    assert set(caught.value.missing) == set(CLOSES)
    assert sleeps.delays == []  # no point waiting to ask a network that is gone


def test_yfinance_log_records_stay_off_stderr(
    source: YahooSource, fake: FakeYahoo, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO), pytest.raises(DataUnavailable):
        source.fetch(["AAA", "NOPE"], date(2024, 1, 2), date(2024, 1, 19))

    assert [r for r in caplog.records if r.name.startswith("yfinance")] == []


@pytest.mark.parametrize(("succeeded", "level"), [(False, logging.WARNING), (True, logging.INFO)])
def test_yfinance_records_become_one_summary_line(
    caplog: pytest.LogCaptureFixture, succeeded: bool, level: int
) -> None:
    ours = logging.getLogger("bot.data.yahoo")
    with caplog.at_level(logging.INFO), yfinance_log_summary(ours) as summary:
        for ticker in ("AAA", "BBB", "CCC"):
            logging.getLogger("yfinance").error("Failed to get ticker '%s' reason: gone", ticker)
        summary.succeeded = succeeded

    assert [(r.name, r.levelno) for r in caplog.records] == [("bot.data.yahoo", level)]
    assert (
        caplog.records[0]
        .getMessage()
        .startswith(
            "yfinance reported 3 problem(s), the first: Failed to get ticker 'AAA' reason: gone"
        )
    )


def test_yfinance_records_go_out_whole_at_debug(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), yfinance_log_summary(logging.getLogger("bot.data")):
        logging.getLogger("yfinance").error("Failed to get ticker 'AAA' reason: gone")

    assert [(r.name, r.getMessage()) for r in caplog.records] == [
        ("yfinance", "Failed to get ticker 'AAA' reason: gone")
    ]


# -- Yahoo unreachable: real sockets on loopback, through a proxy setting -----------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers (a network that drops packets)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield int(server.getsockname()[1])


def _through_proxy(port: int) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # only the proxy set here
    session.proxies = {"https": f"http://127.0.0.1:{port}", "http": f"http://127.0.0.1:{port}"}
    return session


def test_refused_connection_fails_fast_and_creates_nothing(tmp_path: Path, sleeps: Sleeps) -> None:
    source = YahooSource(tmp_path / "cache", session=_through_proxy(_closed_port()), sleep=sleeps)
    started = time.monotonic()

    with pytest.raises(YahooUnreachable) as caught:
        source.fetch(["AAA", "BBB"], date(2024, 1, 2), date(2024, 1, 19))

    assert time.monotonic() - started < 2
    message = str(caught.value)
    assert message.startswith("cannot reach Yahoo Finance: the proxy refused the connection;")
    assert message.endswith("; check the network, or use --prices-dir DIR or --offline")
    assert caught.value.missing == ("AAA", "BBB")
    assert sleeps.delays == [] and not (tmp_path / "cache").exists()


def test_silence_fails_after_the_probe_timeout(
    tmp_path: Path, sleeps: Sleeps, silent_port: int
) -> None:
    source = YahooSource(
        tmp_path / "cache", session=_through_proxy(silent_port), sleep=sleeps, probe_timeout=0.3
    )
    started = time.monotonic()

    with pytest.raises(YahooUnreachable, match=r"Yahoo Finance: no answer within 0\.3 s"):
        source.fetch(["AAA"], date(2024, 1, 2), date(2024, 1, 19))

    assert time.monotonic() - started < 2


# -- CachedSource over YahooSource --------------------------------------------------------------

HISTORY_START = date(2024, 1, 2)


def _append_day(fake: FakeYahoo, ticker: str, day: str, close: float) -> None:
    bars = pd.concat([fake.bars(ticker), make_bars([day], [close])])
    fake.add(ticker, bars)


def test_cached_source_refreshes_incrementally_and_refetches_rewritten_history(
    fake: FakeYahoo, sleeps: Sleeps, tmp_path: Path, state: sqlite3.Connection
) -> None:
    for ticker in ("AAA", "BBB"):
        fake.add(ticker, make_bars(WINTER, CLOSES[ticker] + np.arange(len(WINTER))))
    yahoo = YahooSource(tmp_path / "cache", session=fake.session(), sleep=sleeps)
    cached = CachedSource(yahoo, state, HISTORY_START)

    first = cached.refresh(["AAA", "BBB"])

    assert first.full == ("AAA", "BBB")
    assert {r.period1 for r in fake.history_requests()} == {HISTORY_START}

    for ticker in ("AAA", "BBB"):
        _append_day(fake, ticker, "2024-03-01", 100.0)
    mark = len(fake.received)
    second = cached.refresh(["AAA", "BBB"])

    assert second.tail == ("AAA", "BBB") and second.rewritten == ()
    tail_requests = [r for r in fake.received[mark:] if r.is_history]
    assert {r.period1 for r in tail_requests} == {date(2024, 2, 29) - timedelta(days=16)}
    assert cached.cache.last_dates(["AAA", "BBB"]) == {
        "AAA": date(2024, 3, 1),
        "BBB": date(2024, 3, 1),
    }

    # A dividend on the new day: Yahoo scales every earlier adjusted close.
    rewritten = fake.bars("AAA")
    rewritten.loc[:"2024-03-01", "adj_close"] *= 0.5
    fake.add("AAA", rewritten)
    _append_day(fake, "AAA", "2024-03-04", 101.0)
    _append_day(fake, "BBB", "2024-03-04", 101.0)
    mark = len(fake.received)
    third = cached.refresh(["AAA", "BBB"])

    assert third.rewritten == ("AAA",)
    asked = sorted((r.chart_ticker or "", r.period1) for r in fake.received[mark:] if r.is_history)
    tail_start = date(2024, 3, 1) - timedelta(days=16)
    assert asked == [("AAA", HISTORY_START), ("AAA", tail_start), ("BBB", tail_start)]
    stored = cached.cache.read(["AAA", "BBB"], HISTORY_START)
    expected = fake.bars("AAA")["adj_close"]
    assert list(stored.dates) == list(expected.index)
    np.testing.assert_allclose(stored.adj_close["AAA"].to_numpy(), expected.to_numpy())
    np.testing.assert_allclose(
        stored.adj_close["BBB"].to_numpy(), fake.bars("BBB")["adj_close"].to_numpy()
    )


def test_a_lone_jump_is_fetched_again_once_then_refused_and_the_cache_kept(
    fake: FakeYahoo, sleeps: Sleeps, tmp_path: Path, state: sqlite3.Connection
) -> None:
    yahoo = YahooSource(tmp_path / "cache", session=fake.session(), sleep=sleeps)
    cached = CachedSource(yahoo, state, HISTORY_START, rules=Rules("XNYS", max_move=3.0))
    cached.refresh(list(CLOSES))
    before = state.execute("SELECT * FROM prices ORDER BY ticker, date").fetchall()
    for ticker in CLOSES:
        _append_day(fake, ticker, "2024-01-22", CLOSES[ticker] + 20)
    split = fake.bars("BBB")
    split.loc["2024-01-22":, ["open", "high", "low", "close", "adj_close"]] *= 1000
    fake.add("BBB", split)
    # A Saturday bar, as Yahoo sometimes serves: set aside, the rest of AAA is kept.
    saturday = make_bars(["2024-01-20"], [CLOSES["AAA"] + 13])
    fake.add("AAA", pd.concat([fake.bars("AAA"), saturday]).sort_index())
    mark = len(fake.received)

    report = cached.refresh(list(CLOSES))

    asked = [r.chart_ticker for r in fake.received[mark:] if r.is_history]
    assert sorted(asked) == ["AAA", "BBB", "BBB", "CCC"]  # BBB again in full, once
    assert [(r.ticker, r.day) for r in report.refused] == [("BBB", date(2024, 1, 22))]
    assert "moved x1250 in one session" in report.refused[0].line()  # 28.8 -> 36000
    assert [(r.ticker, r.day) for r in report.dropped] == [("AAA", date(2024, 1, 20))]
    assert "Saturday" in report.dropped[0].reason
    last = cached.cache.last_dates(list(CLOSES))
    assert last == {"AAA": date(2024, 1, 22), "BBB": date(2024, 1, 19), "CCC": date(2024, 1, 22)}
    after = state.execute("SELECT * FROM prices WHERE ticker = 'BBB' ORDER BY date").fetchall()
    assert after == [row for row in before if row[0] == "BBB"]  # BBB's rows unchanged
    assert pd.Timestamp("2024-01-20") not in cached.cache.read(["AAA"]).dates
