"""YahooBars through the real yfinance library, against the 5-minute chart answers of the fake
Yahoo in tests/fake_yahoo.py (no socket opened), and against a refused connection on loopback.
"""

from __future__ import annotations

import logging
import socket
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import requests

# Imported here, not first inside a test: yfinance's import installs a warnings filter that
# would otherwise take precedence over this module's filterwarnings mark for that test.
import yfinance  # noqa: F401

from bot.data.intraday import Moves, Skipped, moves_at
from bot.data.yahoo import YahooRateLimited, YahooUnreachable
from bot.data.yahoo_intraday import YahooBars
from bot.errors import DataUnavailable
from tests.fake_yahoo import FakeYahoo, make_intraday

pytestmark = [
    pytest.mark.integration,
    # yfinance 1.7 still uses pandas' deprecated inplace= keywords; not ours to fix.
    pytest.mark.filterwarnings("ignore:The inplace keyword:DeprecationWarning"),
]

NEW_YORK = ZoneInfo("America/New_York")
DAY = date(2024, 1, 17)  # a Wednesday; the session before is Tuesday (Monday was MLK Day)
PREVIOUS = date(2024, 1, 16)
PRIOR = {"AAA": 10.0, "BBB": 20.0, "CCC": 30.0}  # each ticker's close of PREVIOUS
BARS = 24  # 09:30 to 11:25
MAX_AGE = timedelta(minutes=20)


def _closes(base: float, count: int = BARS) -> npt.NDArray[np.float64]:
    """A ticker's closes: base + 1 at 09:30, a tenth more each bar (CCC: less)."""
    step = -0.1 if base == PRIOR["CCC"] else 0.1
    return np.asarray(base + 1.0 + step * np.arange(count), dtype="float64")


def _at(hhmm: str, day: date = DAY) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=NEW_YORK)


def _two_sessions(base: float) -> pd.DataFrame:
    """PREVIOUS's 78 bars, all at ``base``, then DAY's first BARS bars."""
    yesterday = make_intraday(str(PREVIOUS), np.full(78, base))
    return pd.concat([yesterday, make_intraday(str(DAY), _closes(base))])


@pytest.fixture
def fake() -> FakeYahoo:
    fake = FakeYahoo()
    for ticker, base in PRIOR.items():
        fake.add_intraday(ticker, _two_sessions(base))
    return fake


@pytest.fixture
def bars(fake: FakeYahoo, tmp_path: Path) -> YahooBars:
    return YahooBars("5m", fake.session(), cache_dir=tmp_path / "cache", timeout=5)


def _moves(found: dict[str, pd.DataFrame], asof: datetime) -> Moves | Skipped:
    return moves_at(found, (PREVIOUS, PRIOR), asof, NEW_YORK, MAX_AGE)


def test_one_session_of_three_tickers_gives_the_moves(bars: YahooBars, fake: FakeYahoo) -> None:
    # A post-market bar Yahoo sends unasked is not a regular-session bar.
    late = make_intraday(str(DAY), [99.0], first="16:00")
    fake.add_intraday("AAA", pd.concat([_two_sessions(PRIOR["AAA"]), late]))

    found = bars.fetch(["CCC", "AAA", "BBB"], DAY)

    assert sorted(found) == ["AAA", "BBB", "CCC"]
    expected_times = pd.date_range(_at("09:30"), periods=BARS, freq="5min").tz_convert("UTC")
    for ticker, base in PRIOR.items():
        frame = found[ticker]
        assert list(frame.columns) == ["close"] and frame["close"].dtype == np.float64
        assert frame.index.name == "datetime" and str(pd.DatetimeIndex(frame.index).tz) == "UTC"
        assert list(frame.index) == list(expected_times)  # 14:30 UTC is 09:30 in New York
        np.testing.assert_allclose(frame["close"].to_numpy(), _closes(base))
    asked = fake.intraday_requests()
    assert sorted(r.chart_ticker or "" for r in asked) == ["AAA", "BBB", "CCC"]  # one each
    assert {r.params["interval"] for r in asked} == {"5m"}
    assert {r.params["includePrePost"] for r in asked} == {"False"}
    assert {(r.period1, r.period2) for r in asked} == {(DAY, DAY + timedelta(days=1))}

    moves = _moves(found, _at("11:02"))  # the 11:00 bar is the last one begun by then

    assert isinstance(moves, Moves)
    assert moves.session == DAY and moves.previous == PREVIOUS
    for ticker, base in PRIOR.items():
        assert moves.moves[ticker] == pytest.approx(_closes(base)[18] / base - 1.0)
        assert moves.bar_times[ticker] == _at("11:00")


def test_a_ticker_whose_bars_stopped_is_stale(bars: YahooBars, fake: FakeYahoo) -> None:
    fake.add_intraday("BBB", make_intraday(str(DAY), _closes(PRIOR["BBB"], 7)))  # to 10:00

    found = bars.fetch(list(PRIOR), DAY)

    assert found["BBB"].index[-1] == pd.Timestamp(_at("10:00"))
    skipped = _moves(found, _at("11:00"))
    assert isinstance(skipped, Skipped)
    assert skipped.reason == "last bar older than 20 minutes for BBB (10:00)"


def test_an_unknown_ticker_is_left_out(bars: YahooBars, fake: FakeYahoo) -> None:
    found = bars.fetch(["AAA", "NOPE", "CCC"], DAY)

    assert sorted(found) == ["AAA", "CCC"]
    assert fake.intraday_requests("NOPE") == [] and fake.chart_tickers() >= {"NOPE"}
    prior = (PREVIOUS, {"AAA": 10.0, "NOPE": 5.0})
    skipped = moves_at(found, prior, _at("11:00"), NEW_YORK, MAX_AGE)
    assert isinstance(skipped, Skipped) and skipped.reason == "no bar yet for NOPE"


# Cold: the 429 answers yfinance's time-zone lookup; warm (zones cached): the 5m request.
@pytest.mark.parametrize(("limited", "warm"), [(["AAA", "BBB", "CCC"], False), (["BBB"], True)])
def test_a_rate_limit_says_so_never_delisted(
    bars: YahooBars,
    fake: FakeYahoo,
    caplog: pytest.LogCaptureFixture,
    limited: list[str],
    warm: bool,
) -> None:
    if warm:
        bars.fetch(list(PRIOR), DAY)
    for ticker in limited:
        fake.rate_limit(ticker, 100)
    mark = len(fake.received)

    with caplog.at_level(logging.INFO), pytest.raises(YahooRateLimited) as caught:
        bars.fetch(list(PRIOR), DAY)

    message = str(caught.value)
    assert isinstance(caught.value, DataUnavailable) and "\n" not in message
    assert message.startswith("Yahoo Finance rate-limited the intraday request (HTTP 429")
    assert caught.value.missing == tuple(limited)
    assert "delisted" not in message + caplog.text
    assert [r for r in caplog.records if r.name.startswith("yfinance")] == []
    asked = [r for r in fake.received[mark:] if r.chart_ticker in limited]
    assert any(r.is_intraday for r in asked) == warm


def test_before_the_open_there_is_nothing_for_today(bars: YahooBars, fake: FakeYahoo) -> None:
    for ticker in PRIOR:  # Yahoo has only the previous session's bars so far
        fake.add_intraday(ticker, make_intraday(str(PREVIOUS), np.full(78, PRIOR[ticker])))

    assert bars.fetch(list(PRIOR), DAY) == {}
    assert len(fake.intraday_requests()) == 3  # it did ask


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_no_network_is_one_line_and_fast(tmp_path: Path) -> None:
    session = requests.Session()
    session.trust_env = False
    session.proxies = {"https": f"http://127.0.0.1:{_closed_port()}"}

    with pytest.raises(YahooUnreachable) as caught:
        YahooBars(session=session, cache_dir=tmp_path, probe_timeout=1).fetch(["AAA"], DAY)

    assert str(caught.value).startswith("cannot reach Yahoo Finance: the proxy refused")
    assert "\n" not in str(caught.value)


def test_a_connection_lost_after_the_probe_is_one_line(bars: YahooBars, fake: FakeYahoo) -> None:
    for ticker in PRIOR:
        fake.time_out(ticker, 100)

    with pytest.raises(YahooUnreachable) as caught:
        bars.fetch(list(PRIOR), DAY)

    assert str(caught.value) == (
        "cannot reach Yahoo Finance for intraday bars: ReadTimeout: fake Yahoo: read timed out"
    )
    assert set(caught.value.missing) == set(PRIOR)
