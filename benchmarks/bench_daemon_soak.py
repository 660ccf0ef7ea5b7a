"""Daemon soak: the daily job over 250 simulated sessions (2025 on real prices), charts on.

Reports resident memory (RSS) at the start, every 50 sessions and at the end; the target is
a flat curve under 300 MB. Messages go to a notifier that only counts them.
Run: python benchmarks/bench_daemon_soak.py [SESSIONS]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import real_prices_or_exit


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class CountingNotifier:
    def __init__(self) -> None:
        self.parts = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None

    async def send(self, chat_id: int, part: object, key: str, kind: str) -> object:
        from bot.notify.notifiers import Sent

        self.parts += 1
        return Sent(message_id=self.parts)


def main(sessions: int = 250) -> None:
    from bot.config import Config, StateConfig, TelegramConfig
    from bot.daemon.scheduler import Daemon
    from bot.data.prices import load_prices
    from bot.store.db import connect

    prices = real_prices_or_exit()
    with tempfile.TemporaryDirectory() as tmp:
        base = Config()
        config = replace(
            base,
            data=replace(base.data, source="csv", csv_dir=prices),
            state=StateConfig(Path(tmp) / "soak.db"),
            telegram=TelegramConfig(chat_ids=(1, 2), charts=True, send_quiet_days=True),
        )
        panel = load_prices(config)
        notifier = CountingNotifier()
        daemon = Daemon(
            config,
            lambda: connect(config.state.path),
            lambda session, now: panel.upto(session),
            lambda conn: notifier,
        )
        days = daemon.runtimes.sessions(date(2025, 1, 1), date(2025, 12, 31))[-sessions:]
        samples = [(0, rss_mb())]
        times = []
        for i, day in enumerate(days, start=1):
            start = time.perf_counter()
            asyncio.run(daemon.rehearse(day, day))
            times.append(time.perf_counter() - start)
            if i % 50 == 0 or i == len(days):
                samples.append((i, rss_mb()))
        counts = daemon.store.counts()
    print(
        f"sessions: {len(days)} ({days[0]}..{days[-1]}), outbox {counts}, "
        f"{notifier.parts} parts sent"
    )
    print(
        f"per session: median {statistics.median(times) * 1000:.0f} ms, "
        f"max {max(times) * 1000:.0f} ms"
    )
    print("RSS MB by sessions done: " + ", ".join(f"{n}: {mb:.0f}" for n, mb in samples))
    start_mb, end_mb = samples[1][1], samples[-1][1]
    print(
        f"RSS after 50 sessions {start_mb:.0f} MB, at the end {end_mb:.0f} MB "
        f"(growth {end_mb - start_mb:+.0f} MB); target < 300 MB: "
        f"{'OK' if max(mb for _, mb in samples) < 300 else 'OVER'}"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 250)
