"""Read ``[intraday]``: checks during the session that may raise a provisional warning.

``threshold`` is a score on the daily scale, or the name of one of the ``[signals]``
thresholds (default ``"shock_severe"``), so the warning follows the close run's thresholds
unless it is given a number of its own.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, fields
from pathlib import Path

from bot.config.reader import Reader
from bot.core.params import DetectorParams

NAMED_THRESHOLDS = ("shock_info", "shock_alert", "shock_severe")
INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m")
OPEN, CLOSE = dt.time(9, 30), dt.time(16, 0)  # the regular session, exchange time


@dataclass(frozen=True, slots=True)
class IntradayConfig:
    """When and how the session is checked; ``checks`` are clock times in exchange time."""

    enabled: bool = False
    checks: tuple[dt.time, ...] = (
        dt.time(10, 30),
        dt.time(12, 0),
        dt.time(14, 0),
        dt.time(15, 15),
    )
    interval: str = "5m"
    threshold: float | str = "shock_severe"  # a score, or a [signals] threshold's name
    max_age_minutes: int = 20
    csv_dir: Path | None = None  # bars from <TICKER>.csv files instead of Yahoo

    def score_threshold(self, params: DetectorParams) -> float:
        """The score a provisional warning needs."""
        if isinstance(self.threshold, str):
            named: float = getattr(params, self.threshold)
            return named
        return float(self.threshold)


def read_intraday(r: Reader, base_dir: Path) -> IntradayConfig:
    """Read the ``[intraday]`` table, reporting problems as ``intraday.key: ...``."""
    d = IntradayConfig()
    r.check_keys(f.name for f in fields(IntradayConfig))
    csv_dir = None
    if "csv_dir" in r.table:
        text = r.string("csv_dir", "intraday")
        path = Path(text).expanduser()
        csv_dir = path if path.is_absolute() else base_dir / path
    return IntradayConfig(
        enabled=r.boolean("enabled", d.enabled),
        checks=_checks(r, d.checks),
        interval=r.choice("interval", d.interval, INTERVALS),
        threshold=_threshold(r, d.threshold),
        max_age_minutes=r.integer("max_age_minutes", d.max_age_minutes, minimum=1),
        csv_dir=csv_dir,
    )


def _checks(r: Reader, default: tuple[dt.time, ...]) -> tuple[dt.time, ...]:
    texts = r.list_of("checks", tuple(t.strftime("%H:%M") for t in default), str, "HH:MM times")
    out: list[dt.time] = []
    for i, text in enumerate(texts):
        m = re.fullmatch(r"(\d{1,2}):(\d{2})", text.strip())
        if not m or int(m[1]) > 23 or int(m[2]) > 59:
            r.problem(f"checks[{i}]", f"must be a time like 10:30 (24-hour HH:MM), got {text!r}")
            return default
        at = dt.time(int(m[1]), int(m[2]))
        if not OPEN < at < CLOSE:
            r.problem(f"checks[{i}]", f"{text} is outside the session (after 09:30, before 16:00)")
            return default
        out.append(at)
    if out != sorted(set(out)):
        r.problem("checks", "times must rise, each once")
        return default
    return tuple(out)


def _threshold(r: Reader, default: float | str) -> float | str:
    value = r.table.get("threshold", default)
    if isinstance(value, str):
        return r.choice("threshold", str(default), NAMED_THRESHOLDS)
    return r.number("threshold", 4.0, minimum=0.0)
