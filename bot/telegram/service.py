"""``rotabot serve``: answer Telegram commands until SIGINT or SIGTERM.

``BotService`` is what the commands ask: plain data in and out, no Telegram in sight, so the
daemon (and tests) can reuse it. Its methods block (prices, pandas, matplotlib, SQLite), so
the bot calls them through ``asyncio.to_thread``; each opens its own SQLite connection
because a connection must stay on the thread that made it.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.core.models import SignalState
from bot.core.panel import complete_sessions, missing_on
from bot.core.signals import Signals, compute_signals, state_at
from bot.data.prices import load_prices
from bot.errors import BotError, StrategyError, UsageError
from bot.notify.delivery import MuteStore
from bot.notify.notifiers import DeliveryLog, DeliveryRecord, redact
from bot.render.text import StatusReport
from bot.store.db import connect

log = logging.getLogger(__name__)

BACKTEST_TIMEOUT = 300.0  # seconds


def _utcnow() -> datetime:
    return datetime.now(UTC)


class BotService:
    """Read-only queries and per-chat settings behind the bot's commands."""

    def __init__(self, config: Config, clock: Callable[[], datetime] = _utcnow) -> None:
        self.config = config
        self.clock = clock
        self.tz = ZoneInfo(config.schedule.timezone)

    @contextmanager
    def _db(self) -> Iterator[MuteStore]:
        with closing(connect(self.config.state.path)) as conn:
            yield MuteStore(conn)

    def _signals(self, asof: date | None) -> tuple[Signals, date]:
        from bot.cli.signal import pick_session

        panel = load_prices(self.config)
        day = pick_session(panel, self.config, asof)
        return compute_signals(panel.upto(day), self.config), day

    def signal(self, asof: date | None = None) -> SignalState:
        """Return the picture at the close of ``asof`` (default: the latest complete session)."""
        signals, day = self._signals(asof)
        return state_at(signals, day)

    def chart(self, days: int) -> bytes:
        from bot.render.charts import ratio_chart

        signals, day = self._signals(None)
        return ratio_chart(signals, end=day, days=days)

    def rrg(self, weeks: int = 8) -> bytes:
        from bot.render.charts import rrg_chart

        signals, day = self._signals(None)
        return rrg_chart(signals, end=day, weeks=weeks)

    def mute(self, chat_id: int, days: int) -> datetime:
        until = self.clock() + timedelta(days=days)
        with self._db() as mutes:
            mutes.mute(chat_id, until)
        return until.astimezone(self.tz)

    def unmute(self, chat_id: int) -> bool:
        with self._db() as mutes:
            return mutes.unmute(chat_id, self.clock())

    def status(self, chat_id: int) -> StatusReport:
        now = self.clock()
        with self._db() as mutes:
            deliveries = DeliveryLog(mutes.conn)
            last_alert, last_send = deliveries.latest("alert"), deliveries.latest()
            muted = mutes.muted_until(chat_id, now)
        through, lagging = self._freshness()
        last_run, pending = self._daemon_state()
        return StatusReport(
            data_through=through,
            lagging=lagging,
            last_alert=self._local(last_alert),
            last_send=self._local(last_send),
            next_run=self._next_run(now),
            muted_until=muted.astimezone(self.tz) if muted else None,
            chats=len(self.config.telegram.chat_ids),
            last_run=last_run,
            pending=pending,
        )

    def _daemon_state(self) -> tuple[str | None, int]:
        """Return the daemon's last run ("session result") and its pending outbox rows."""
        from bot.store.state import StateStore

        with closing(connect(self.config.state.path)) as conn:
            store = StateStore(conn)
            runs = store.recent_runs(1)
            counts = store.counts()
        last = f"{runs[0].session} {runs[0].status}" if runs else None
        return last, counts.get("pending", 0) + counts.get("sending", 0)

    def _next_run(self, now: datetime) -> datetime | None:
        from bot.data.runtimes import Runtimes

        try:
            return Runtimes(self.config.schedule).next_run(now)[1].astimezone(self.tz)
        except ValueError:
            return None

    def _local(self, record: DeliveryRecord | None) -> DeliveryRecord | None:
        return None if record is None else replace(record, at=record.at.astimezone(self.tz))

    def _freshness(self) -> tuple[date | None, tuple[str, ...]]:
        """Return the latest complete session in the data and the tickers lacking its bar."""
        try:
            panel = load_prices(self.config, refresh="never")
        except BotError as exc:
            log.warning("status: cannot read prices: %s", exc)
            return None, ()
        tickers = list(self.config.tickers)
        complete = complete_sessions(panel, tickers)
        if len(complete) == 0:
            return None, ()
        return complete[-1].date(), tuple(missing_on(panel, tickers, panel.dates[-1]))

    def backtest(self, strategy: str, params: list[str]) -> dict[str, object] | None:
        """Run ``rotabot backtest`` in a child process; None when backtesting is not built.

        A child process keeps a long backtest off the bot's interpreter and uses only the
        command's documented JSON output, not the backtest module's internals.
        """
        try:
            importlib.import_module("bot.backtest.engine")
        except ImportError:
            return None
        options = [x for p in params for x in ("--param", p)]
        argv = [*self._global_options(), "backtest", "--strategy", strategy, *options]
        env = {k: v for k, v in os.environ.items() if k != self.config.telegram.token_env}
        try:
            done = subprocess.run(
                [sys.executable, "-m", "bot", *argv, "--format", "json"],
                capture_output=True,
                text=True,
                timeout=BACKTEST_TIMEOUT,
                env=env,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise StrategyError(f"the backtest took longer than {BACKTEST_TIMEOUT:.0f} s") from None
        if done.returncode == 2:
            raise UsageError(_last_line(done.stderr))
        if done.returncode != 0:
            raise StrategyError(f"the backtest failed: {_last_line(done.stderr)}")
        try:
            result = json.loads(done.stdout)
        except ValueError:
            raise StrategyError("the backtest printed no JSON result") from None
        if not isinstance(result, dict):
            raise StrategyError("the backtest printed an unexpected result")
        return result

    def _global_options(self) -> list[str]:
        options = []
        if self.config.source_file is not None:
            options += ["--config", str(self.config.source_file)]
        if self.config.data.source == "csv":
            options += ["--prices-dir", str(self.config.data.csv_dir)]
        return options


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = lines[-1] if lines else "no message"
    return redact(text.removeprefix("rotabot: error: ").removeprefix("rotabot: failed: "))[:300]
