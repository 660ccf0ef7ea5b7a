"""Readings of every watched pair and every basket, session by session.

Pure: no I/O, no clock. ``compute_signals`` builds the market once (``bot.core.market``) and
then one frame per pair; ``events`` and ``picture_at`` read from them. Every reading on
session t uses prices up to t only.

The ``frame`` of a ``PairSignals`` (pair ``a/b``) has one row per session and the columns:

* ``ret_<key>``, ``index_<key>`` for ``a`` and ``b``; ``benchmark``, the benchmark return
  (the equal-weight mean of the pair's members where the benchmark has none);
* ``ratio`` = index a / index b, ``ma_short``/``ma_long`` its moving averages, ``trend`` =
  ratio / ma_long - 1, ``regime_band`` the session's band and ``regime`` +1/-1/0
  (``bot.core.rotation.regime_band`` and ``regime_states``);
* ``rs_ratio``, ``rs_momentum``, ``quadrant``: a against b (RRG approximation), and
  ``rs_ratio_<key>``, ``rs_momentum_<key>``, ``quadrant_<key>``: each of a, b against the
  benchmark;
* the ``ta`` readings (``rsi_14``, ``ppo``, ``roc_20``, ``tsi``, ``bollinger_pb``);
* the shock evidence of ``bot.core.shock.shock_evidence`` and ``eligible``, whether the
  shock gates pass (``bot.core.rotation.shock_eligible``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from bot.core import explain, record, rotation
from bot.core.baskets import basket_index
from bot.core.market import Market, build_market
from bot.core.models import BasketReading, Picture, Quadrant, RotationEvent, SignalState
from bot.core.panel import PricePanel
from bot.core.params import Basket, DetectorParams, Pair, Universe
from bot.core.shock import shock_evidence
from bot.core.strength import indicators, moving_average, quadrant_codes, rrg

INDICATORS = ("rsi_14", "ppo", "roc_20", "tsi", "bollinger_pb")

Memo = dict[tuple[str, ...], pd.DataFrame]
"""Basket-against-benchmark readings already computed in one ``compute_signals`` call."""


@dataclass(frozen=True, slots=True)
class PairSignals:
    """The readings of one pair (see the module docstring for the frame's columns)."""

    pair: Pair
    frame: pd.DataFrame
    market: Market

    @property
    def universe(self) -> Universe:
        return self.market.universe

    @property
    def params(self) -> DetectorParams:
        return self.market.universe.params

    @property
    def keys(self) -> tuple[str, str]:
        return self.pair.keys

    @property
    def returns(self) -> pd.DataFrame:
        """Member returns (one column per ticker of the universe)."""
        return self.market.member

    @property
    def tickers(self) -> tuple[str, ...]:
        return self.market.universe.pair_tickers(self.pair)

    def basket(self, key: str) -> Basket:
        return self.market.universe.basket(key)


@dataclass(frozen=True, slots=True)
class Signals:
    """Readings of every watched pair, and of every basket against the benchmark.

    ``baskets`` has, per basket key, the columns ``rs_ratio_<key>``, ``rs_momentum_<key>``
    and ``quadrant_<key>``.
    """

    market: Market
    pairs: tuple[PairSignals, ...]
    baskets: pd.DataFrame

    @property
    def universe(self) -> Universe:
        return self.market.universe

    @property
    def sessions(self) -> pd.DatetimeIndex:
        return self.market.sessions

    def pair(self, key: str) -> PairSignals:
        for ps in self.pairs:
            if ps.pair.key == key:
                return ps
        raise KeyError(key)

    @property
    def first(self) -> PairSignals:
        return self.pairs[0]


def compute_signals(
    panel: PricePanel, universe: Universe, pairs: Sequence[Pair] | None = None
) -> Signals:
    """Compute every reading for every session of ``panel``: each pair of ``pairs`` (default:
    the universe's), each basket against the benchmark."""
    market = build_market(panel, universe)
    # Baskets are read against the benchmark, or where it has no history yet against the
    # equal-weight mean of every basket member: one reading per basket, whatever the pair.
    bench = market.benchmark_for(universe.basket_tickers)
    memo: Memo = {}
    vs = [_vs_benchmark(market, b.key, bench, memo) for b in universe.baskets]
    chosen = tuple(pairs) if pairs is not None else universe.pairs
    frames = tuple(PairSignals(p, _pair_frame(market, p, memo), market) for p in chosen)
    return Signals(market, frames, pd.concat(vs, axis=1))


def _vs_benchmark(market: Market, key: str, bench: pd.Series, memo: Memo) -> pd.DataFrame:
    """RRG of basket ``key`` against the benchmark, computed once and shared by every pair."""
    if (key,) not in memo:
        vs = rrg(market.levels[key], basket_index(bench), market.universe.params.rrg_window)
        memo[(key,)] = pd.DataFrame(
            {
                f"rs_ratio_{key}": vs["rs_ratio"],
                f"rs_momentum_{key}": vs["rs_momentum"],
                f"quadrant_{key}": quadrant_codes(vs["rs_ratio"], vs["rs_momentum"]),
            }
        )
    reading: pd.DataFrame = memo[(key,)]
    return reading


def _pair_frame(
    market: Market, pair: Pair, memo: dict[tuple[str, ...], pd.DataFrame]
) -> pd.DataFrame:
    a, b = pair.keys
    p = market.universe.params
    tickers = market.universe.pair_tickers(pair)
    bench = market.benchmark_for(tickers)
    ratio = market.levels[a] / market.levels[b]
    ma_long = moving_average(ratio, p.ma_long)
    rs = rrg(market.levels[a], market.levels[b], p.rrg_window)
    band = rotation.regime_band(ratio, p)
    frame = pd.DataFrame(
        {
            f"ret_{a}": market.baskets[a],
            f"ret_{b}": market.baskets[b],
            f"index_{a}": market.levels[a],
            f"index_{b}": market.levels[b],
            "benchmark": bench,
            "ratio": ratio,
            "ma_short": moving_average(ratio, p.ma_short),
            "ma_long": ma_long,
            "trend": ratio / ma_long - 1.0,
            "regime_band": band,
            "regime": rotation.regime_states(ratio, ma_long, band, p.regime_confirm),
            "rs_ratio": rs["rs_ratio"],
            "rs_momentum": rs["rs_momentum"],
            "quadrant": quadrant_codes(rs["rs_ratio"], rs["rs_momentum"]),
        }
    )
    vs = [memo[(k,)] for k in (a, b)]
    evidence = shock_readings(market, pair)
    return pd.concat([frame, *vs, indicators(ratio), evidence], axis=1)


def shock_readings(market: Market, pair: Pair) -> pd.DataFrame:
    """The pair's shock evidence plus ``eligible``: the one source of shocks for alerts and
    backtests alike."""
    a, b = pair.keys
    members = {a: market.universe.basket(a).tickers, b: market.universe.basket(b).tickers}
    bench = market.pair_benchmark(pair)
    params = market.universe.params
    evidence = shock_evidence(market.member, members, market.baskets[[a, b]], bench, params)
    evidence["eligible"] = rotation.shock_eligible(evidence, params)
    return evidence


def events(
    signals: Signals,
    start: date | None = None,
    end: date | None = None,
    pair: str | None = None,
) -> list[RotationEvent]:
    """Return every rotation event between ``start`` and ``end`` inclusive, oldest first, for
    every pair (config order within a session) or only ``pair``."""
    chosen = [signals.pair(pair)] if pair else list(signals.pairs)
    out = [e for ps in chosen for e in pair_events(ps, start, end)]
    order = {ps.pair.key: i for i, ps in enumerate(signals.pairs)}
    return sorted(out, key=lambda e: (e.date, order[e.pair]))


def pair_events(
    ps: PairSignals,
    start: date | None = None,
    end: date | None = None,
    ctx: explain.Context | None = None,
) -> list[RotationEvent]:
    """Return one pair's rotation events between ``start`` and ``end`` inclusive, each with
    its track record (``bot.core.record``) from the earlier events of the whole history."""
    history = rotation.decide_all(ps.frame, ps.pair, ps.params, end)
    chosen = [d for d in history if start is None or d.date >= start]
    if not chosen:
        return []
    ctx = ctx or explain.Context.of(ps)
    records = _track_records(ps, ctx, history, chosen)
    return [replace(explain.describe(ps, d, ctx), track_record=records[d]) for d in chosen]


def _track_records(
    ps: PairSignals,
    ctx: explain.Context,
    history: list[rotation.Decision],
    chosen: list[rotation.Decision],
) -> dict[rotation.Decision, record.TrackRecord]:
    """The track record of every decision, from the decisions before it of the same kind and
    severity, forward returns read on the basket levels up to its own session only."""
    levels = {k: ps.market.levels[k].to_numpy() for k in ps.keys}
    at = {d: ctx.at(pd.Timestamp(d.date)) for d in history}
    out = {}
    for d in chosen:
        earlier = [e for e in history if e.kind == d.kind and e.severity == d.severity]
        earlier = [e for e in earlier if e.date < d.date]
        directions = [(levels[e.to_key], levels[e.from_key]) for e in earlier]
        out[d] = record.track_record([at[e] for e in earlier], directions, at[d])
    return out


def state_at(ps: PairSignals, asof: date) -> SignalState:
    """Return the pair's picture at the close of session ``asof`` (which must be in the data)."""
    ts = pd.Timestamp(asof)
    row = _row(ps.frame, ts)
    a, b = ps.keys
    regime = int(row["regime"])
    ctx = explain.Context.of(ps)  # the pair's arrays, read once for events, gate and notes
    found = pair_events(ps, ts.date(), ts.date(), ctx)
    score, why = explain.why_not(ctx, ts)
    return SignalState(
        date=ts.date(),
        pair=ps.pair.key,
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
        events=tuple(found),
        notes=explain.notes(ctx, ts),
        shock_score=score,
        no_shock_because=why,
    )


def picture_at(signals: Signals, asof: date) -> Picture:
    """Return every pair's picture and every basket's reading at the close of ``asof``."""
    ts = pd.Timestamp(asof)
    row = _row(signals.baskets, ts)
    readings = tuple(
        BasketReading(
            b.key,
            _num(row[f"rs_ratio_{b.key}"]),
            _num(row[f"rs_momentum_{b.key}"]),
            _quadrant(row[f"quadrant_{b.key}"]),
        )
        for b in signals.universe.baskets
    )
    return Picture(ts.date(), tuple(state_at(ps, asof) for ps in signals.pairs), readings)


def _row(frame: pd.DataFrame, ts: pd.Timestamp) -> dict[str, Any]:
    """Return the session ``ts`` of ``frame`` as a dict of column -> value."""
    return {str(k): v for k, v in frame.loc[ts].items()}


def _num(value: object) -> float | None:
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number


def _quadrant(value: object) -> Quadrant | None:
    return Quadrant(value) if isinstance(value, str) else None
