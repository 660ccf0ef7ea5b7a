"""2025-01-27 on real daily prices: a rehearsal of the session from synthesized bars.

No intraday history exists here. The bars put each member's whole close-to-close move of
2025-01-27 at the open (the DeepSeek news broke before the bell) and hold it flat after; the
default configuration and thresholds are used as they are.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.cli.main import main
from bot.config import Config
from bot.data.csv_source import CsvSource

pytestmark = pytest.mark.integration

NY = ZoneInfo("America/New_York")
DAY = pd.Timestamp("2025-01-27")


def write_bars(real_prices: Path, folder: Path) -> None:
    config = Config()
    panel = CsvSource(real_prices).fetch(config.tickers, pd.Timestamp("2024-12-01").date())
    adj = panel.adj_close.ffill()
    pos = adj.index.get_loc(DAY)
    traded = panel.close.iloc[pos - 1].fillna(adj.iloc[pos - 1])
    starts = pd.date_range(datetime.combine(DAY.date(), time(9, 30), NY), periods=78, freq="5min")
    folder.mkdir()
    for t in config.tickers:
        if not pd.notna(panel.adj_close.iloc[pos][t]):
            continue  # not listed yet (SNDK): not a member on this session
        price = traded[t] * adj.iloc[pos][t] / adj.iloc[pos - 1][t]
        rows = [f"{s.isoformat()},{price},{price},{price},{price},100" for s in starts]
        (folder / f"{t}.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows))


def test_the_first_check_raises_chips_to_platforms_and_the_close_confirms_it(
    real_prices: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ROTABOT_TELEGRAM_TOKEN", raising=False)
    write_bars(real_prices, tmp_path / "bars")
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "csv"\ncsv_dir = "{real_prices}"\n'
        f'[state]\npath = "{tmp_path / "state.db"}"\n'
        f'[intraday]\nenabled = true\ncsv_dir = "{tmp_path / "bars"}"\n'
    )
    day = str(DAY.date())
    argv = ["--config", str(config), "daemon", "--simulate-from", day, "--simulate-to", day]
    assert main(argv) == 0
    out = capsys.readouterr().out
    warning = out.index("IN PROGRESS · Chips/Platforms · 10:30 ET")
    assert "Chips → Platforms" in out[warning : warning + 400]
    alert = out.index("SEVERE · shock rotation")
    assert warning < alert and "First flagged at 10:30 ET" in out[alert:]
    assert out.count("IN PROGRESS") == 1  # later checks saw it again: not sent again
    assert "Withdrawn" not in out
