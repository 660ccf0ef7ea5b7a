"""The queries behind the Telegram commands (``rotabot serve`` and the daemon answer them).

``BotService`` is what the commands ask: plain data in and out, no Telegram in sight, so the
daemon (and tests) can reuse it. Its methods block (prices, pandas, matplotlib, SQLite), so
the bot calls them through ``asyncio.to_thread``; each opens its own SQLite connection
because a connection must stay on the thread that made it.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from bot.config import Config, Pair
from bot.core.models import Picture
from bot.core.signals import Signals, compute_signals, picture_at
from bot.data.intraday import Skipped
from bot.data.prices import load_prices
from bot.data.session import SessionRead
from bot.data.sessions import pick_session
from bot.errors import StrategyError, UsageError
from bot.notify.delivery import MuteStore
from bot.notify.notifiers import redact
from bot.notify.scoring import Scored, score_alerts
from bot.notify.status import chat_report, collect_status
from bot.render.charts import ratio_chart, rrg_chart
from bot.render.replies import StatusReport
from bot.store.db import connect

log = logging.getLogger(__name__)

BACKTEST_TIMEOUT = 300.0  # seconds


class BotService:
    """Read-only queries and per-chat settings behind the bot's commands.

    ``clock`` returns the aware time now (default: the system clock in UTC); tests pass a
    fixed one.
    """

    def __init__(self, config: Config, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        self.clock: Callable[[], datetime] = clock or partial(datetime.now, UTC)
        self.tz = ZoneInfo(config.schedule.timezone)
        self._children: set[subprocess.Popen[str]] = set()  # backtests running now
        self._children_lock = threading.Lock()

    @contextmanager
    def _db(self) -> Iterator[MuteStore]:
        with closing(connect(self.config.state.path)) as conn:
            yield MuteStore(conn)

    def _signals(self, asof: date | None, pairs: Sequence[Pair] | None) -> tuple[Signals, date]:
        """Readings of ``pairs`` (None: every watched pair) up to the session to report."""
        panel = load_prices(self.config)
        day = pick_session(panel, self.config, asof)
        return compute_signals(panel.upto(day), self.config.universe, pairs), day

    def picture(self, asof: date | None = None, pair: Pair | None = None) -> Picture:
        """Return the picture at the close of ``asof`` (default: the latest complete
        session) of ``pair``, or of every watched pair."""
        signals, day = self._signals(asof, (pair,) if pair else None)
        return picture_at(signals, day)

    def chart(self, pair: Pair, sessions: int) -> bytes:
        """Return the PNG ratio chart of ``pair`` over its last ``sessions`` sessions."""
        signals, day = self._signals(None, (pair,))
        return ratio_chart(signals.first, end=day, days=sessions)

    def rrg(self, tail: int) -> bytes:
        """Return the PNG relative rotation graph of every basket, tails of ``tail`` sessions."""
        signals, day = self._signals(None, ())  # the baskets' readings need no pair
        return rrg_chart(signals, end=day, tail=tail)

    def scorecard(self, pair: Pair | None) -> Scored:
        """Score the alerts over all the data held: delivered ones first, else a replay."""
        panel = load_prices(self.config)
        if len(panel.dates) == 0:
            raise UsageError("no prices yet: the daemon fetches them at its first run")
        period = (panel.dates[0].date(), panel.dates[-1].date())
        return score_alerts(self.config, panel, period, pair)

    def now(self, pair: Pair | None) -> tuple[datetime, SessionRead | Skipped | None]:
        """Read the session at this moment, as a check would (None: no session is trading)."""
        from bot.data.calendar import trading_at
        from bot.data.session import read_session, session_bars

        moment = self.clock()
        if not trading_at(self.config.schedule.calendar, moment):
            return moment, None
        bars, moment = session_bars(self.config, moment)
        panel = load_prices(self.config)
        return moment, read_session(self.config, panel, bars, moment, (pair,) if pair else None)

    def mute(self, chat_id: int, days: int) -> datetime:
        until = self.clock() + timedelta(days=days)
        with self._db() as mutes:
            mutes.mute(chat_id, until)
        return until.astimezone(self.tz)

    def unmute(self, chat_id: int) -> bool:
        with self._db() as mutes:
            return mutes.unmute(chat_id, self.clock())

    def status(self, chat_id: int) -> StatusReport:
        """Return /status for ``chat_id``: the one status model, in the schedule's time zone."""
        now = self.clock()
        with self._db() as mutes:
            status = collect_status(self.config, mutes.conn, now)
            muted = mutes.muted_until(chat_id, now)
        return chat_report(status, self.config, self.tz, muted)

    def backtest(self, strategy: str, params: list[str]) -> dict[str, object]:
        """Run ``rotabot backtest`` in a child process and return its JSON result.

        ``params`` are ``key=value`` strategy parameters; ``pair=A/B`` picks the pair a pair
        strategy trades (the command's ``--pair``). A child process keeps a long backtest off
        the bot's interpreter and uses only the command's documented JSON output.
        """
        options = [x for p in params for x in _backtest_option(p)]
        argv = [*self._global_options(), "backtest", "--strategy", strategy, *options]
        code, stdout, stderr = self._child([sys.executable, "-m", "bot", *argv, "--format", "json"])
        if code == 2:
            raise UsageError(_last_line(stderr))
        if code != 0:
            raise StrategyError(f"the backtest failed: {_last_line(stderr)}")
        try:
            result = json.loads(stdout)
        except ValueError:
            raise StrategyError("the backtest printed no JSON result") from None
        if not isinstance(result, dict):
            raise StrategyError("the backtest printed an unexpected result")
        return result

    def _child(self, argv: list[str]) -> tuple[int, str, str]:
        """Run ``argv`` to its end (or ``BACKTEST_TIMEOUT``); return code, stdout, stderr."""
        env = {k: v for k, v in os.environ.items() if k != self.config.telegram.token_env}
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        with self._children_lock:
            self._children.add(proc)
        try:
            stdout, stderr = proc.communicate(timeout=BACKTEST_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise StrategyError(f"the backtest took longer than {BACKTEST_TIMEOUT:.0f} s") from None
        finally:
            with self._children_lock:
                self._children.discard(proc)
        if proc.returncode < 0:
            raise StrategyError("the backtest was stopped: the bot is shutting down")
        return proc.returncode, stdout, stderr

    def stop(self) -> None:
        """Kill the backtests still running: the bot is stopping and nobody waits for them."""
        with self._children_lock:
            for proc in self._children:
                proc.kill()

    def _global_options(self) -> list[str]:
        options = []
        if self.config.source_file is not None:
            options += ["--config", str(self.config.source_file)]
        if self.config.data.source == "csv":
            options += ["--prices-dir", str(self.config.data.csv_dir)]
        return options


def _backtest_option(param: str) -> tuple[str, str]:
    key, _, value = param.partition("=")
    return ("--pair", value) if key == "pair" else ("--param", param)


def _last_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    text = lines[-1] if lines else "no message"
    return redact(text.removeprefix("rotabot: error: ").removeprefix("rotabot: failed: "))[:300]
