"""Prices checked at the door: each bad file is refused in one line (file and line), exit 2,
with no signal, alert or backtest built on it and the cache left as it was."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.cli.main import main
from bot.config import Config
from bot.core.panel import FIELDS, PricePanel
from bot.core.signals import compute_signals, events
from bot.data.checks import BadPrices, Rules
from bot.data.csv_source import CsvSource
from bot.data.prices import load_prices
from bot.store.db import connect

pytestmark = pytest.mark.integration


@pytest.fixture
def prices(real_prices: Path, tmp_path: Path) -> Path:
    """A copy of the real price files of the default config's tickers."""
    folder = tmp_path / "prices"
    folder.mkdir()
    for ticker in Config().tickers:
        shutil.copy(real_prices / f"{ticker}.csv", folder / f"{ticker}.csv")
    return folder


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True)


def insert_after(path: Path, day: str, row: str) -> int:
    """Insert ``row`` after the line of ``day``; return the new row's line number."""
    lines = lines_of(path)
    at = next(i for i, line in enumerate(lines) if line.startswith(day)) + 1
    lines.insert(at, row)
    path.write_text("".join(lines))
    return at + 1


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str) -> str:
    """Run a command on ``folder``; check it exits 2 with one line and no output."""
    code, out, err = run(capsys, "--prices-dir", str(folder), *argv)
    assert code == 2, (out, err)
    assert out == ""  # no signal, alert, equity or table built on the bad data
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


SIGNAL = ("signal", "--asof", "2025-01-27", "--format", "json")


def test_a_saturday_row_is_refused_by_file_and_line(
    capsys: pytest.CaptureFixture[str], prices: Path
) -> None:
    path = prices / "MRVL.csv"
    friday = next(x for x in lines_of(path) if x.startswith("2025-01-24"))
    line = insert_after(path, "2025-01-24", friday.replace("2025-01-24", "2025-01-25"))
    err = refused(capsys, prices, *SIGNAL)
    assert f"{path}:{line}: 2025-01-25 is a Saturday, not a trading session" in err


@pytest.mark.parametrize(
    ("after", "day", "what"),
    [
        ("2024-12-24", "2024-12-25", "2024-12-25 is not a XNYS session (a market holiday)"),
        ("2025-12-31", "2099-01-02", "2099-01-02 is in the future (today is "),
    ],
)
def test_a_holiday_or_future_row_is_refused(
    capsys: pytest.CaptureFixture[str], prices: Path, after: str, day: str, what: str
) -> None:
    path = prices / "AMD.csv"
    line = insert_after(path, after, f"{day},1,1,1,1,1,1\n")
    for argv in (SIGNAL, ("backtest", "--strategy", "dual_momentum")):
        err = refused(capsys, prices, *argv)
        assert f"{path}:{line}: {what}" in err


def test_a_line_cut_inside_adj_close_is_refused(
    capsys: pytest.CaptureFixture[str], prices: Path
) -> None:
    path = prices / "NVDA.csv"
    text = path.read_text()
    assert text.endswith("186.2728,120100500\n")
    path.write_text(text[: -len("28,120100500\n")])  # ...,186.5,186.27
    line = len(lines_of(path))
    err = refused(capsys, prices, *SIGNAL)
    assert f"{path}:{line}: 6 field(s) where the header has 7 (cut short?)" in err


def test_a_member_with_only_its_header_is_refused(
    capsys: pytest.CaptureFixture[str], prices: Path
) -> None:
    path = prices / "CRM.csv"
    path.write_text(lines_of(path)[0])
    err = refused(capsys, prices, *SIGNAL)
    assert f"{path}:1: no prices (only a header); a configured ticker needs its bars" in err


def split_nvda(folder: Path, since: str, factor: float = 1000.0) -> int:
    """Multiply NVDA's prices from ``since`` on (an unadjusted split); return that line."""
    path = folder / "NVDA.csv"
    frame = pd.read_csv(path, dtype={"date": str})
    later = frame["date"] >= since
    for column in ("open", "high", "low", "close", "adj_close"):
        frame.loc[later, column] *= factor
    frame.to_csv(path, index=False)
    return int(np.argmax(later.to_numpy())) + 2


def test_an_unadjusted_split_is_refused_and_builds_no_alert_or_backtest(
    capsys: pytest.CaptureFixture[str], prices: Path
) -> None:
    line = split_nvda(prices, "2025-03-03")
    for argv in (
        ("signal", "--asof", "2025-03-03", "--format", "json"),
        ("backtest", "--strategy", "dual_momentum"),
    ):
        err = refused(capsys, prices, *argv)
        assert f"{prices / 'NVDA.csv'}:{line}: NVDA 2025-03-03: adj_close moved x913.1" in err
    assert "1672" not in err and "9954" not in err


def test_a_split_shared_by_every_ticker_is_not_an_outlier(tmp_path: Path) -> None:
    """A jump all tickers share (a change of unit) is the data's, not one member's."""
    days = ["2024-01-02", "2024-01-03", "2024-01-04"]
    for ticker in ("AAA", "BBB", "CCC"):
        (tmp_path / f"{ticker}.csv").write_text(
            "date,adj_close\n"
            + "".join(f"{d},{p}\n" for d, p in zip(days, [1, 1, 100], strict=True))
        )
    panel = CsvSource(tmp_path, Rules("XNYS", max_move=3.0)).fetch(
        ["AAA", "BBB", "CCC"], date(2024, 1, 1)
    )
    assert panel.adj_close.iloc[-1].tolist() == [100.0] * 3


def dump(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute("SELECT * FROM prices ORDER BY ticker, date").fetchall()


def test_prices_update_refusal_leaves_the_cache_as_it_was(
    capsys: pytest.CaptureFixture[str], prices: Path, tmp_path: Path
) -> None:
    state = tmp_path / "xdg" / "xdg_state_home" / "rotabot" / "rotabot.db"
    assert run(capsys, "--prices-dir", str(prices), "prices", "update")[0] == 0
    assert state.exists()
    with connect(state) as conn:
        before = dump(conn)
    conn.close()
    split_nvda(prices, "2025-03-03")
    err = refused(capsys, prices, "prices", "update")
    assert "NVDA.csv" in err and "moved x913.1" in err
    conn = connect(state)
    assert dump(conn) == before
    conn.close()


# -- Yahoo through the cache: bars set aside, tickers refused, the rest kept -------------------


class PanelSource:
    """A PriceSource serving a fixed panel (the real prices, with faults added)."""

    name = "yahoo"

    def __init__(self, panel: PricePanel) -> None:
        self.panel = panel
        self.asked: list[tuple[str, ...]] = []

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel:
        self.asked.append(tuple(tickers))
        frames = (self.panel.field(f).loc[pd.Timestamp(start) :, list(tickers)] for f in FIELDS)
        return PricePanel(*frames)


def with_row(panel: PricePanel, day: str, like: str) -> PricePanel:
    """The panel with a bar on ``day`` copied from ``like`` (for every ticker)."""
    out = []
    for f in FIELDS:
        frame = panel.field(f)
        row = frame.loc[[pd.Timestamp(like)]].set_axis(pd.DatetimeIndex([day], name="date"))
        out.append(pd.concat([frame, row]).sort_index())
    return PricePanel(*out)


def yahoo_config(tmp_path: Path) -> Config:
    config = Config()
    return replace(config, state=replace(config.state, path=tmp_path / "state.db"))


def test_a_saturday_bar_from_yahoo_is_set_aside_and_the_shock_still_found(
    real_prices: Path, tmp_path: Path
) -> None:
    config = yahoo_config(tmp_path)
    real = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    source = PanelSource(with_row(real, "2025-01-25", like="2025-01-24"))
    panel = load_prices(config, refresh="always", source=source)
    assert pd.Timestamp("2025-01-25") not in panel.dates
    day = date(2025, 1, 27)
    signals = compute_signals(panel.upto(day), config.universe)
    shocks = [e for e in events(signals, day, day) if e.kind == "shock"]
    assert [(e.from_basket, e.to_basket, e.severity.value) for e in shocks] == [
        ("chips", "platforms", "severe")
    ]


def test_a_split_from_yahoo_is_refetched_once_then_refused_and_not_cached(
    real_prices: Path, tmp_path: Path
) -> None:
    config = yahoo_config(tmp_path)
    real = CsvSource(real_prices).fetch(config.tickers, config.data.history_start)
    cut = pd.Timestamp("2025-02-28")
    good = PricePanel(*(real.field(f).loc[:cut] for f in FIELDS))
    load_prices(config, refresh="always", source=PanelSource(good))
    split = PricePanel(*(real.field(f).copy() for f in FIELDS))
    for f in ("open", "high", "low", "close", "adj_close"):
        split.field(f).loc[pd.Timestamp("2025-03-03") :, "NVDA"] *= 1000
    source = PanelSource(split)
    with pytest.raises(BadPrices) as info:
        load_prices(config, refresh="always", source=source)
    assert str(info.value).startswith("NVDA 2025-03-03: adj_close moved x913.1")
    assert source.asked[-1] == ("NVDA",)  # fetched again in full, once
    left = info.value.panel
    assert left is not None
    assert left.adj_close["NVDA"].last_valid_index() == cut  # the cache kept its older bars
    assert left.adj_close["AMD"].last_valid_index() == pd.Timestamp("2025-12-31")
    assert float(left.adj_close["NVDA"].max()) < 1000  # nothing of the split got in
