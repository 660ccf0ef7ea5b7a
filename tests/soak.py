"""Fault-injection soak: the whole daily path over hundreds of simulated sessions.

The daemon runs on a simulated clock, in this process, with its real parts: the real yfinance
library fetching through the cache from a fake Yahoo, the real python-telegram-bot client
posting to the fake Bot API server over HTTP, the real SQLite state file. A seeded random
schedule injects faults:

* data: Yahoo 429s, timeouts, an empty answer, some tickers missing, the last bar NaN, a stale
  last date (each for a few attempts, clearing before the deadline; twice until after it), an
  adjusted history rewritten by a split, and bad data the checks at the door must refuse
  (tests/soak_data.py: a weekend bar, an x1000 jump, a CSV line cut short, an empty member);
* Telegram: 429 with retry_after, 500, answers slower than the client waits, the server down
  (connection refused) for hours;
* process: crashes at random points (mid-evaluation, before delivery, after Telegram took a
  message but before it was recorded), each followed by a restart after some downtime.

A crash is a ``BaseException`` raised inside the job, which nothing in the daemon catches, so
the process state is dropped as a kill would drop it; the restart opens the same state file.
The same market is then run without faults, and ``check`` compares the two.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from bot.config import Config
from bot.core.models import Severity
from bot.core.panel import PricePanel
from bot.daemon.scheduler import Daemon
from bot.data.calendar import sessions as nyse_sessions
from bot.data.prices import load_prices
from bot.data.source import PriceSource
from bot.data.yahoo import YahooSource
from bot.notify.notifiers import Notifier, Part, Sent, Timeouts
from bot.notify.telegram import TelegramNotifier
from bot.store.db import connect
from tests.fake_telegram import TOKEN, Fail, FakeTelegram, Slow
from tests.fake_yahoo import FakeYahoo, make_bars
from tests.soak_data import KINDS, REFUSED, BadData
from tests.synthetic import small_config

NY = ZoneInfo("America/New_York")
CHATS = (111, 222)
TICKERS = ("C1", "C2", "C3", "C4", "P1", "P2", "P3", "BENCH")
WARMUP = 120  # sessions of history before the first simulated one
TAIL = 10  # sessions of bars after the last simulated one (a restart may land there)
HEADER = re.compile(r"<b>(?:INFO|ALERT|SEVERE) · .* · (\d{4}-\d{2}-\d{2})</b>")


class Crash(BaseException):
    """A simulated SIGKILL: nothing in the daemon catches a BaseException."""


@dataclass
class Market:
    sessions: list[date]  # the simulated ones
    bars: dict[str, pd.DataFrame]

    @classmethod
    def build(cls, count: int, seed: int) -> Market:
        days = [d.date() for d in nyse_sessions("XNYS", date(2024, 1, 2), date(2027, 12, 31))]
        days = days[: WARMUP + count + TAIL]
        rng = np.random.default_rng(seed)
        common = rng.normal(0.0003, 0.008, len(days))
        moves = {t: common + rng.normal(0, 0.008, len(days)) for t in TICKERS}
        moves["BENCH"] = common
        for i in range(WARMUP + 10, len(days), 23):  # a rotation every ~23 sessions
            sign = 1 if (i // 23) % 2 else -1
            for t in TICKERS[:4]:
                moves[t][i] = sign * rng.uniform(0.04, 0.07)
            for t in TICKERS[4:7]:
                moves[t][i] = -sign * rng.uniform(0.02, 0.05)
            moves["BENCH"][i] = rng.normal(0, 0.002)
        index = [d.isoformat() for d in days]
        bars = {
            t: make_bars(index, 100 * np.cumprod(1 + m), adj_ratio=0.95) for t, m in moves.items()
        }
        return cls(days[WARMUP:-TAIL], bars)


def soak_config(tmp: Path, name: str) -> Config:
    base = small_config(
        min_history=60, short_window=40, long_window=120, ma_short=10, ma_long=40, rrg_window=20
    )
    return replace(
        base,
        data=replace(base.data, history_start=date(2024, 1, 1)),
        state=replace(base.state, path=tmp / name / "state.db"),
        telegram=replace(base.telegram, chat_ids=CHATS, charts=True),
        schedule=replace(base.schedule, catch_up="all", retry_minutes=60),
    )


@dataclass
class Faults:
    """The seeded fault schedule and what was injected."""

    rng: random.Random
    enabled: bool
    counts: Counter[str] = field(default_factory=Counter)
    stale_for: dict[date, int] = field(default_factory=dict)  # session -> attempts left
    never: set[date] = field(default_factory=set)  # sessions whose data never arrives
    last_faulty: dict[date, bool] = field(default_factory=dict)  # the last attempt's data
    bad_served: set[date] = field(default_factory=set)  # sessions served data to refuse
    telegram_down_until: datetime | None = None

    def roll(self, p: float) -> bool:
        return self.enabled and self.rng.random() < p


@dataclass
class Soak:
    tmp: Path
    market: Market
    yahoo: FakeYahoo
    telegram: FakeTelegram
    faults: Faults
    config: Config
    crashes: int = 0
    ticks: int = 0
    bad: BadData | None = None

    # --- the world as the daemon sees it ----------------------------------------------------

    def load(self, session: date, now: datetime) -> PricePanel:
        """The price loader: the real cache + yfinance path, against the fake Yahoo."""
        if self.faults.roll(0.02):
            self.faults.counts["crash mid-evaluation"] += 1
            raise Crash
        csv = self._data_faults(session)
        source = csv or YahooSource(
            self.tmp / "yf",
            session=self.yahoo.session(),
            retries=1,
            backoff=0.0,
            sleep=lambda s: None,
            threads=1,
        )
        return load_prices(self.config, refresh="always", now=now, source=source)

    def _data_faults(self, session: date) -> PriceSource | None:
        y, f = self.yahoo, self.faults
        bad = self.bad = self.bad or BadData(y, self.tmp / "csv", self.config.schedule.calendar)
        bad.restore()
        source = None
        for t in TICKERS:  # each attempt starts clean: a fault lasts the attempts it was given
            y.end_early(t, date.max)
            y.nan_last_bar(t, False)
            y.rate_limit(t, 0)
            y.time_out(t, 0)
        y.hidden.clear()
        left = f.stale_for.get(session)
        if left is None:
            # Transient faults last one or two attempts: even a session evaluated late (after
            # a restart past its deadline) gets three before it is declared incomplete.
            left = 99 if session in f.never else (f.rng.randint(1, 2) if f.roll(0.12) else 0)
            f.stale_for[session] = left
        f.last_faulty[session] = left > 0
        if left > 0:
            f.stale_for[session] = left - 1
            kind = (
                "stale"
                if session in f.never
                else f.rng.choice(["stale", "empty", "missing", "nan", "429", "timeout", *KINDS])
            )
            f.counts[f"data: {kind}"] += 1
            if kind in KINDS:
                source = bad.inject(kind, session, TICKERS[:7], f.rng)
                f.bad_served |= {session} if kind in REFUSED else set()
                kind = "none"
            previous = self.market.sessions[max(self.market.sessions.index(session) - 1, 0)]
            hit = f.rng.sample(TICKERS, f.rng.randint(1, len(TICKERS)))
            for t in TICKERS if session in f.never else hit if kind != "none" else ():
                if kind == "stale":
                    y.end_early(t, previous)
                elif kind == "empty":
                    y.end_early(t, date(2000, 1, 1))
                elif kind == "missing":
                    y.hidden.add(t)
                elif kind == "nan":
                    y.nan_last_bar(t)
                elif kind == "429":
                    y.rate_limit(t, 6)
                else:
                    y.time_out(t, 6)
        if f.roll(0.01):
            t = f.rng.choice(TICKERS)
            bars = y.bars(t)
            # A split or dividend re-basing: every adjusted close scaled alike, so returns
            # are unchanged but the cached overlap no longer matches.
            bars["adj_close"] *= 0.5
            y.add(t, bars)
            if t in bad.saved:  # the rewrite outlasts this attempt's planted bad data
                bad.saved[t]["adj_close"] *= 0.5
            f.counts["data: history rewritten (split)"] += 1
        return source

    def notifier(self, conn: Any) -> Notifier:
        inner = TelegramNotifier(
            self.config,
            TOKEN,
            timeouts=Timeouts(connect=2, read=1.0, write=2, media_write=2),
            sleep=_no_wait,
        )
        return _Crashing(inner, self.faults)

    # --- the clock --------------------------------------------------------------------------

    def publish(self, now: datetime) -> None:
        """Make bars visible as Yahoo would: a session's bar some minutes after its close."""
        local = now.astimezone(NY)
        visible = (
            local.date()
            if local.hour * 60 + local.minute >= 16 * 60 + 20
            else (local.date() - timedelta(days=1))
        )
        self.yahoo.visible_until = visible

    def telegram_faults(self, now: datetime) -> None:
        f, tg = self.faults, self.telegram
        if f.telegram_down_until is not None and now >= f.telegram_down_until:
            tg.up()
            f.telegram_down_until = None
        if f.telegram_down_until is None and f.roll(0.02):
            tg.down()
            f.telegram_down_until = now + timedelta(hours=f.rng.choice([3, 9, 30]))
            f.counts["telegram: down (connection refused)"] += 1
        if f.roll(0.04):
            action = f.rng.choice([Fail(429, retry_after=1), Fail(500), Slow(2.0)])
            method = f.rng.choice(["sendPhoto", "sendMessage"])
            tg.script(method, action)
            f.counts[f"telegram: {type(action).__name__} {getattr(action, 'status', '')}"] += 1

    def daemon(self) -> Daemon:
        return Daemon(
            self.config, lambda: connect(self.config.state.path), self.load, self.notifier
        )

    def _settled(self, daemon: Daemon) -> bool:
        runs = {r.session: r.status for r in daemon.store.recent_runs(10_000)}
        return all(runs.get(s) in ("done", "incomplete") for s in self.market.sessions)

    async def run(self) -> None:
        days = self.market.sessions
        now = datetime.combine(days[0], datetime.min.time(), NY).astimezone(UTC)
        end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), NY)
        daemon = self.daemon()
        daemon.start(now)
        while now < end.astimezone(UTC) or not self._settled(daemon):
            self.publish(now)
            self.telegram_faults(now)
            self.ticks += 1
            try:
                now = await daemon.tick(now)
            except Crash:
                self.crashes += 1
                now += timedelta(minutes=self.faults.rng.choice([1, 30, 60 * 24, 60 * 72]))
                daemon = self.daemon()  # the restart
                daemon.start(now)
        if self.faults.telegram_down_until is not None:
            self.telegram.up()
        await daemon.deliver()  # what is still pending once Telegram is back


class _Crashing:
    """Wraps a notifier; may crash before sending or after Telegram took the message."""

    def __init__(self, inner: TelegramNotifier, faults: Faults) -> None:
        self.inner, self.faults = inner, faults

    async def __aenter__(self) -> Self:
        if self.faults.roll(0.03):
            self.faults.counts["crash before delivery"] += 1
            raise Crash
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.inner.__aexit__(kind, exc, tb)

    async def send(self, chat_id: int, part: Part, key: str, kind: str) -> Sent:
        sent = await self.inner.send(chat_id, part, key, kind)
        if self.faults.roll(0.05):
            self.faults.counts["crash after Telegram took a message"] += 1
            raise Crash
        return sent


async def _no_wait(seconds: float) -> None:
    return None


@dataclass
class Outcome:
    config: Config
    telegram: FakeTelegram
    soak: Soak
    seconds: float

    def runs(self) -> dict[date, str]:
        conn = connect(self.config.state.path)
        rows = conn.execute("SELECT session, status FROM runs").fetchall()
        conn.close()
        return {date.fromisoformat(s): st for s, st in rows}

    def events(self) -> dict[date, list[tuple[str, str, str, str, float]]]:
        conn = connect(self.config.state.path)
        rows = conn.execute("SELECT session, payload FROM events ORDER BY session, position")
        out: dict[date, list[tuple[str, str, str, str, float]]] = {}
        import json

        for session, payload in rows.fetchall():
            e = json.loads(payload)
            out.setdefault(date.fromisoformat(session), []).append(
                (e["kind"], e["from"], e["to"], e["severity"], round(float(e["score"]), 4))
            )
        conn.close()
        return out

    def outbox(self) -> Counter[tuple[str, str]]:
        """(kind, status) -> how many outbox rows ended so."""
        conn = connect(self.config.state.path)
        rows = conn.execute("SELECT kind, status, COUNT(*) FROM outbox GROUP BY kind, status")
        found = Counter({(str(k), str(s)): int(n) for k, s, n in rows.fetchall()})
        conn.close()
        return found

    def alerts_queued(self) -> set[tuple[int, date]]:
        """(chat, session) of every alert the outbox delivered (or may have: unconfirmed)."""
        conn = connect(self.config.state.path)
        rows = conn.execute(
            "SELECT chat_id, session FROM outbox "
            "WHERE kind = 'alert' AND status IN ('sent', 'unconfirmed')"
        ).fetchall()
        conn.close()
        return {(int(c), date.fromisoformat(s)) for c, s in rows}

    def alerts_received(self) -> Counter[tuple[int, date]]:
        """(chat, session) -> how many alert headers the fake Telegram received."""
        seen: Counter[tuple[int, date]] = Counter()
        for m in self.telegram.messages():
            first = m.text.split("\n", 1)[0]
            found = HEADER.search(first)
            if found:
                seen[(m.chat_id, date.fromisoformat(found.group(1)))] += 1
        return seen


def run_clean(tmp: Path, sessions: int, seed: int) -> Outcome:
    """The fault-free reference: the same market and job, prices straight from the bars."""
    from tests.fakes import RecordingNotifier

    market = Market.build(sessions, seed)
    panel = _panel(market)
    config = soak_config(tmp, "clean")
    notifier = RecordingNotifier()
    daemon = Daemon(
        config,
        lambda: connect(config.state.path),
        lambda session, now: panel.upto(session),
        lambda conn: notifier,
    )
    started = time.monotonic()
    asyncio.run(daemon.rehearse(market.sessions[0], market.sessions[-1]))
    soak = Soak(
        tmp, market, FakeYahoo(), FakeTelegram(), Faults(random.Random(seed), False), config
    )
    return Outcome(config, soak.telegram, soak, time.monotonic() - started)


def _panel(market: Market) -> PricePanel:
    from bot.core.panel import panel_from_long

    frames = []
    for t, bars in market.bars.items():
        frame = bars.reset_index(names="date")
        frame.insert(0, "ticker", t)
        frames.append(frame)
    return panel_from_long(pd.concat(frames, ignore_index=True), list(TICKERS))


def run_soak(tmp: Path, sessions: int, seed: int, faults: bool, name: str) -> Outcome:
    market = Market.build(sessions, seed)
    yahoo = FakeYahoo()
    for t, bars in market.bars.items():
        yahoo.add(t, bars)
    rng = random.Random(seed)
    f = Faults(rng, faults)
    if faults:
        f.never = set(rng.sample(market.sessions[5:], 2))
    config = soak_config(tmp, name)
    started = time.monotonic()
    with FakeTelegram() as telegram:
        config = replace(
            config, telegram=replace(config.telegram, api_base_url=telegram.api_base_url)
        )
        soak = Soak(tmp, market, yahoo, telegram, f, config)
        asyncio.run(soak.run())
        return Outcome(config, telegram, soak, time.monotonic() - started)


def check(faulty: Outcome, clean: Outcome) -> dict[str, object]:
    """Compare a faulty run with the fault-free one; return the figures, raise on a breach."""
    days = set(faulty.soak.market.sessions)
    runs = {s: st for s, st in faulty.runs().items() if s in days}
    clean_runs = {s: st for s, st in clean.runs().items() if s in days}
    incomplete = {s for s, st in runs.items() if st == "incomplete"}
    f = faulty.soak.faults
    # Incomplete only where the data were still faulty at the last try. A planted session
    # ("data never arrive" for its own fetches) can still complete when a later session's fetch
    # brought its bar into the cache first (after a long crash): then it must be right.
    assert all(f.last_faulty.get(s) for s in incomplete), (incomplete, f.never)
    assert incomplete & f.never, "no planted session ended incomplete: the notice went untested"
    assert set(runs) == set(clean_runs) == set(faulty.soak.market.sessions)
    assert all(st in ("done", "incomplete") for st in runs.values()), Counter(runs.values())
    events = {s: e for s, e in faulty.events().items() if s in days}
    clean_events = {s: e for s, e in clean.events().items() if s in days}
    for s in incomplete:
        assert s not in events  # no signal from incomplete data
    expected = {s: e for s, e in clean_events.items() if s not in incomplete}
    assert events == expected  # the same events as the fault-free run
    received = {k: n for k, n in faulty.alerts_received().items() if k[1] in days}
    # Alerts carry the events at or above telegram.min_severity; the rest are not pushed.
    floor = Severity(faulty.config.telegram.min_severity).rank
    alert_days = {
        s for s, evs in expected.items() if any(Severity(e[3]).rank >= floor for e in evs)
    }
    wanted = {(c, s) for c in CHATS for s in alert_days}
    doubled = {k: n for k, n in received.items() if n > 1}
    lost = wanted - set(received)
    assert not doubled, f"alerts delivered twice: {doubled}"
    assert not lost, f"alerts lost: {sorted(lost)}"
    assert set(received) == wanted
    # The outbox tells the same story: every alert settled, none waiting, none refused.
    outbox = faulty.outbox()
    assert {st for _, st in outbox} <= {"sent", "unconfirmed"}, outbox
    assert {k for k in faulty.alerts_queued() if k[1] in days} == wanted
    # Each incomplete session: one notice per chat, "data incomplete" or "prices refused".
    said = [(m.chat_id, m.text) for m in faulty.telegram.messages()]
    notices = Counter(
        (c, s)
        for c, text in said
        for s in incomplete
        if f"Data incomplete · {s}" in text or f"Prices refused · {s}" in text
    )
    assert notices == Counter({(c, s): 1 for c in CHATS for s in incomplete}), notices
    refused = {s for _, text in said for s in incomplete if f"Prices refused · {s}" in text}
    assert refused <= f.bad_served, (refused, f.bad_served)  # refused only when served bad data
    assert refused, "no session was refused for bad data: the checks went untested"
    from_bad = [k for k in received if k[1] in refused]
    assert not from_bad, f"alerts from refused data: {from_bad}"
    return {
        "sessions": len(runs),
        "events": sum(len(e) for e in events.values()),
        "alert sessions": len(alert_days),
        "alerts delivered (chat x session)": len(received),
        "outbox rows unconfirmed": sum(n for (_, st), n in outbox.items() if st == "unconfirmed"),
        "incomplete sessions (notice, no signal)": len(incomplete),
        "of which planted (data never arrives)": len(incomplete & f.never),
        "of which refused at the door (bad data)": len(refused),
        "alerts lost, doubled, from bad data": (len(lost), len(doubled), len(from_bad)),
        "crashes and restarts": faulty.soak.crashes,
        "daemon exits on its own": 0,  # any exception but a simulated crash fails the run
        "ticks": faulty.soak.ticks,
        "faults": dict(sorted(faulty.soak.faults.counts.items())),
        "seconds (faulty run, clean run)": (round(faulty.seconds, 1), round(clean.seconds, 1)),
    }
