"""The rotation engine: prices in, per-session readings and rotation events out.

Pure: no I/O, no clock. ``compute_signals`` does all the vectorised work once; ``events`` and
``state_at`` read from it. Every reading on session t uses prices up to t only.

The ``frame`` of Signals has one row per session and these columns:

* ``ret_<key>`` basket returns, ``index_<key>`` basket index levels (base 100), ``benchmark``
  the benchmark return (the equal-weight mean of all members where the benchmark has none);
* ``ratio`` numerator index / denominator index, ``ma_short``/``ma_long`` its moving
  averages, ``trend`` = ratio / ma_long - 1, ``regime`` +1/-1/0 (see ``strength.regime_states``);
* ``rs_ratio``, ``rs_momentum``, ``quadrant`` numerator vs denominator (RRG approximation),
  and ``quadrant_<key>`` each basket vs the benchmark;
* the ``ta`` readings (``rsi_14``, ``ppo``, ``roc_20``, ``tsi``, ``bollinger_pb``);
* the shock evidence of ``shock.shock_evidence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from bot.config import Config
from bot.core import explain
from bot.core.baskets import basket_index, basket_returns, member_returns
from bot.core.models import Quadrant, RotationEvent, Severity, SignalState
from bot.core.panel import PricePanel
from bot.core.shock import shock_evidence
from bot.core.strength import indicators, moving_average, quadrant_codes, regime_states, rrg
from bot.errors import DataError

INDICATORS = ("rsi_14", "ppo", "roc_20", "tsi", "bollinger_pb")


@dataclass(frozen=True, slots=True)
class Signals:
    """Everything the engine computed for a panel (see the module docstring for columns)."""

    frame: pd.DataFrame
    returns: pd.DataFrame
    config: Config

    @property
    def keys(self) -> tuple[str, str]:
        a, b = self.config.baskets[0].key, self.config.baskets[1].key
        return a, b

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.frame.index)


def compute_signals(panel: PricePanel, config: Config) -> Signals:
    """Compute every reading for every session of ``panel``."""
    _check_panel(panel, config)
    adj = panel.adj_close[list(config.tickers)]
    returns = member_returns(adj)
    a, b = (bk.key for bk in config.baskets)
    baskets = basket_returns(returns, [(bk.key, bk.weight_map()) for bk in config.baskets])
    members = {bk.key: bk.tickers for bk in config.baskets}
    fallback = returns[list(config.basket_tickers)].mean(axis=1)
    bench = returns[config.benchmark.ticker].fillna(fallback)
    levels = {k: basket_index(baskets[k]) for k in (a, b)}
    bench_level = basket_index(bench)
    p = config.signals
    ratio = levels[a] / levels[b]
    ma_short, ma_long = moving_average(ratio, p.ma_short), moving_average(ratio, p.ma_long)
    pair = rrg(levels[a], levels[b], p.rrg_window)
    frame = pd.DataFrame(
        {
            f"ret_{a}": baskets[a],
            f"ret_{b}": baskets[b],
            f"index_{a}": levels[a],
            f"index_{b}": levels[b],
            "benchmark": bench,
            "ratio": ratio,
            "ma_short": ma_short,
            "ma_long": ma_long,
            "trend": ratio / ma_long - 1.0,
            "regime": regime_states(ratio, ma_long, p.regime_band, p.regime_confirm),
            "rs_ratio": pair["rs_ratio"],
            "rs_momentum": pair["rs_momentum"],
            "quadrant": quadrant_codes(pair["rs_ratio"], pair["rs_momentum"]),
        }
    )
    for k in (a, b):
        vs = rrg(levels[k], bench_level, p.rrg_window)
        frame[f"rs_ratio_{k}"] = vs["rs_ratio"]
        frame[f"rs_momentum_{k}"] = vs["rs_momentum"]
        frame[f"quadrant_{k}"] = quadrant_codes(vs["rs_ratio"], vs["rs_momentum"])
    frame = frame.join(indicators(ratio)).join(shock_evidence(returns, members, baskets, bench, p))
    return Signals(frame=frame, returns=returns, config=config)


def _check_panel(panel: PricePanel, config: Config) -> None:
    index = panel.adj_close.index
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError("prices must be indexed by date")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise DataError("price dates must be sorted and unique")
    absent = [t for t in config.tickers if t not in panel.adj_close.columns]
    if absent:
        raise DataError(f"no prices for {', '.join(absent)}")
    for bk in config.baskets:
        if panel.adj_close[list(bk.tickers)].notna().sum().sum() == 0:
            raise DataError(f"basket {bk.key}: none of its members has prices")


def severity_for(score: float, config: Config) -> Severity | None:
    p = config.signals
    if score >= p.shock_severe:
        return Severity.SEVERE
    if score >= p.shock_alert:
        return Severity.ALERT
    if score >= p.shock_info:
        return Severity.INFO
    return None


def events(
    signals: Signals, start: date | None = None, end: date | None = None
) -> list[RotationEvent]:
    """Return every rotation event between ``start`` and ``end`` inclusive, oldest first."""
    frame = signals.frame.loc[_ts(start) : _ts(end)]
    found = _shock_events(signals, frame) + _regime_events(signals, frame)
    return sorted(found, key=lambda e: (e.date, e.kind))


def _shock_events(signals: Signals, frame: pd.DataFrame) -> list[RotationEvent]:
    p = signals.config.signals
    hits = frame[frame["eligible"] & (frame["score"] >= p.shock_info)]
    out = []
    for ts in hits.index:
        row = explain.row_at(hits, ts)
        severity = severity_for(float(row["score"]), signals.config)
        assert severity is not None  # filtered above: score >= shock_info
        out.append(explain.shock_event(signals, pd.Timestamp(ts), row, severity))
    return out


def _regime_events(signals: Signals, frame: pd.DataFrame) -> list[RotationEvent]:
    full = signals.frame
    regime = full["regime"]
    prior_regime = regime.shift(1).fillna(0).astype("int64")
    turned = (regime != prior_regime) & (prior_regime != 0)
    quadrant = _confirmed_quadrant(full["quadrant"], signals.config.signals.regime_confirm)
    prior_quadrant = quadrant.shift(1)
    into_a = (prior_quadrant == Quadrant.IMPROVING.value) & (quadrant == Quadrant.LEADING.value)
    into_b = (prior_quadrant == Quadrant.WEAKENING.value) & (quadrant == Quadrant.LAGGING.value)
    window = frame.index
    out = [explain.ma_cross_event(signals, pd.Timestamp(ts)) for ts in window[turned[window]]]
    flips = window[(into_a | into_b)[window]]
    out += [
        explain.quadrant_event(signals, pd.Timestamp(ts), str(prior_quadrant[ts])) for ts in flips
    ]
    return out


def _confirmed_quadrant(quadrant: pd.Series, confirm: int) -> pd.Series:
    """Return the quadrant that has held for ``confirm`` sessions, carried until the next one."""
    values = quadrant.to_numpy()
    same = np.ones(len(values), dtype="int64")
    for i in range(1, len(values)):
        if values[i] is not None and values[i] == values[i - 1]:
            same[i] = same[i - 1] + 1
    held = pd.Series(values, index=quadrant.index, dtype=object)
    return held.where((same >= confirm) & quadrant.notna().to_numpy()).ffill()


def state_at(signals: Signals, asof: date) -> SignalState:
    """Return the picture at the close of session ``asof`` (which must be in the data)."""
    ts = pd.Timestamp(asof)
    row = explain.row_at(signals.frame, ts)
    a, b = signals.keys
    regime = int(row["regime"])
    return SignalState(
        date=ts.date(),
        ratio=float(row["ratio"]),
        ratio_ma_short=_num(row["ma_short"]),
        ratio_ma_long=_num(row["ma_long"]),
        trend=_num(row["trend"]),
        regime=a if regime > 0 else b if regime < 0 else "neutral",
        quadrant=_quadrant(row["quadrant"]),
        rs_ratio=_num(row["rs_ratio"]),
        rs_momentum=_num(row["rs_momentum"]),
        indicators={k: _num(row[k]) for k in INDICATORS},
        basket_returns={k: _num(row[f"ret_{k}"]) for k in (a, b)},
        benchmark_return=_num(row["benchmark"]),
        basket_quadrants={k: _quadrant(row[f"quadrant_{k}"]) for k in (a, b)},
        events=tuple(events(signals, ts.date(), ts.date())),
        notes=explain.notes(signals, ts, row),
    )


def _ts(day: date | None) -> pd.Timestamp | None:
    return pd.Timestamp(day) if day is not None else None


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number


def _quadrant(value: object) -> Quadrant | None:
    return Quadrant(value) if isinstance(value, str) else None
