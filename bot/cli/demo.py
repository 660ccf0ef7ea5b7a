"""``rotabot demo``: the main job on the price sample in the package, with no network, no
configuration file and no Telegram token.

It runs the real commands in this process (``bot.cli.main.main``), on a configuration it
writes to a temporary folder: prices from ``bot/data/sample`` (2023-2025), the state file
beside the configuration, and a token variable nobody sets, so messages go to the console
notifier, which prints what a Telegram chat would receive. Nothing is written outside that
folder, and it is removed at the end unless ``--keep DIR`` names a folder to keep it in (then
the rehearsal's charts are drawn and saved there too).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path

from bot.config import Config
from bot.data.sample import FIRST, LAST, SAMPLE_DIR
from bot.errors import UsageError

# A variable nobody sets (the demo refuses to run if someone did): the demo never sends.
TOKEN_ENV = "ROTABOT_DEMO_NEVER_SET"
SESSION_DAY = date(2025, 1, 27)
MAIN, SESSION = "config.toml", "session.toml"  # the second has the checks during the session
STEPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (
        "The picture at the close of 2025-01-27, the DeepSeek sell-off: chips fell 9% "
        "while the S&P 500 lost 1.5%",
        ("signal", "--asof", "2025-01-27"),
        MAIN,
    ),
    (
        "Every rotation of 2025, as a replay finds them (a replay never sends)",
        ("replay", "--start", "2025-01-01", "--end", "2025-12-31"),
        MAIN,
    ),
    (
        "The daemon rehearsing January 2025: each message a Telegram chat would have received",
        ("daemon", "--simulate-from", "2025-01-02", "--simulate-to", "2025-01-31"),
        MAIN,
    ),
    (
        "2025-01-27 through the session, with checks at 10:30, 12:00, 14:00 and 15:15 on "
        "5-minute bars made from the sample (each stock's move of the day at the open; there "
        "are no real intraday bars here): the first check warns, the close confirms",
        ("daemon", "--simulate-from", "2025-01-27", "--simulate-to", "2025-01-27"),
        SESSION,
    ),
    (
        "A short backtest: hold the basket that leads on its 200-day trend, through 2025",
        ("backtest", "--strategy", "rs_trend", "--start", "2025-01-02", "--end", "2025-12-31"),
        MAIN,
    ),
)


def run_demo(args: argparse.Namespace, config: Config) -> int:
    from bot.cli.main import main

    if os.environ.get(TOKEN_ENV):
        raise UsageError(f"${TOKEN_ENV} is set: unset it, the demo never sends to Telegram")
    keep = Path(args.keep) if args.keep else None
    with _workspace(keep) as folder:
        path = write_config(folder, charts=keep is not None)
        write_session_config(folder, path)
        print(_intro(keep))
        for number, (title, argv, name) in enumerate(STEPS, 1):
            shown = ("--config", name, *argv) if name != MAIN else argv
            print(f"\n== {number}/{len(STEPS)}  {title}\n$ rotabot {' '.join(shown)}\n", flush=True)
            common = ["--log-level", args.log_level, "--log-format", args.log_format]
            code = main([*common, "--config", str(folder / name), *argv])
            sys.stdout.flush()
            if code != 0:
                return code
        print(_outro(path if keep else None))
    return 0


def write_config(folder: Path, charts: bool) -> Path:
    """Write the demo's configuration into ``folder`` and return its path."""
    path = folder / "config.toml"
    path.write_text(
        "# Written by `rotabot demo`: prices from the sample in the package, the state file\n"
        "# beside this file, and a token variable nobody sets (messages go to the console).\n"
        "[data]\n"
        'source = "csv"\n'
        f"csv_dir = {json.dumps(str(SAMPLE_DIR))}\n"
        f'history_start = "{FIRST}"\n\n'
        '[state]\npath = "rotabot.db"\n\n'
        f'[telegram]\ntoken_env = "{TOKEN_ENV}"\ncharts = {str(charts).lower()}\n',
        encoding="utf-8",
    )
    return path


def write_session_config(folder: Path, main_config: Path) -> Path:
    """Write the configuration of the session step (its own state file, so the rehearsal of
    January does not settle 2025-01-27 first) and its 5-minute bars; return its path."""
    bars = write_session_bars(folder / "bars", SESSION_DAY)
    text = main_config.read_text(encoding="utf-8").replace('"rotabot.db"', '"session.db"')
    path = folder / SESSION
    path.write_text(
        f"{text}\n[intraday]\nenabled = true\ncsv_dir = {json.dumps(str(bars))}\n",
        encoding="utf-8",
    )
    return path


def write_session_bars(folder: Path, day: date) -> Path:
    """Write 5-minute bars of ``day`` for every sample ticker listed then: the close-to-close
    move of the day from the first bar on (a gap at the open), flat after it."""
    import pandas as pd

    from bot.data.calendar import exchange_zone
    from bot.data.csv_source import CsvSource

    tickers = sorted(p.stem for p in SAMPLE_DIR.glob("*.csv"))
    panel = CsvSource(SAMPLE_DIR).fetch(tickers, FIRST)
    before, now = panel.adj_close.loc[: pd.Timestamp(day)].iloc[-2:].to_numpy()
    traded = panel.close.loc[: pd.Timestamp(day)].iloc[-2]
    zone = exchange_zone("XNYS")
    starts = pd.date_range(datetime.combine(day, time(9, 30), zone), periods=78, freq="5min")
    folder.mkdir()
    for i, ticker in enumerate(tickers):
        if not (pd.notna(now[i]) and pd.notna(before[i])):
            continue  # not listed yet on that day
        base = traded[ticker] if pd.notna(traded[ticker]) else before[i]
        price = base * now[i] / before[i]
        bar = f"{price:.6f},{price:.6f},{price:.6f},{price:.6f},0"
        rows = [f"{s.isoformat()},{bar}" for s in starts]
        (folder / f"{ticker}.csv").write_text(
            "datetime,open,high,low,close,volume\n" + "\n".join(rows) + "\n", encoding="utf-8"
        )
    return folder


@contextmanager
def _workspace(keep: Path | None) -> Iterator[Path]:
    """A new temporary folder, removed afterwards; or ``keep``, which must be new or empty
    (a rehearsal over a kept state file would find its sessions settled and print nothing)."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="rotabot-demo-") as name:
            yield Path(name)
        return
    if keep.exists() and (not keep.is_dir() or any(keep.iterdir())):
        raise UsageError(f"--keep {keep}: not an empty folder; name a new or empty one")
    keep.mkdir(parents=True, exist_ok=True)
    yield keep.resolve()


def _intro(keep: Path | None) -> str:
    where = (
        f"in {keep}."
        if keep
        else "in a temporary folder,\nremoved at the end (--keep DIR keeps them)."
    )
    return (
        "rotabot demo: the main job on the price sample inside the package (the default\n"
        f"baskets and the S&P 500, {FIRST} to {LAST}), with no network, no configuration\n"
        f"file and no Telegram token. Its configuration and state file live {where}\n"
        'Lines starting with "---" show a message as a Telegram chat would receive it.'
    )


def _outro(kept: Path | None) -> str:
    lines = ["", "Done. For live prices: `rotabot prices update`, then `rotabot signal`."]
    if kept:
        lines.append(f"Kept: try `rotabot --config {kept} status` or `... signal --asof DATE`.")
    return "\n".join(lines)
