"""The strategy contract, and small vectorised helpers the built-in strategies share.

A strategy is a frozen dataclass whose fields are its parameters (declared with ``param`` so
the command line can list, parse and check them) and whose class variable ``name`` is the
registry key. It declares its warm-up (``warmup``: sessions of basket history it needs before
its weights mean anything), what it trades (``trades``: ``"pair"``, the default, or
``"baskets"``) and implements one method, ``grid_weights``: for each of many parameter sets at
once, the target weights of every session t, from data up to t only. A sweep asks for the same
weights as codes into a palette (``grid_codes``); the default encodes ``grid_weights``, and a
strategy may give them directly, faster (``rs_momentum`` does; a test compares the two).

Weights are fractions of equity per asset, ``(sessions, parameter sets, assets)`` with the
assets of ``MarketData.assets``: for a pair strategy numerator basket, denominator basket,
benchmark (``bot.backtest.market.pair_data``); for a basket strategy every configured basket,
then the benchmark (``basket_data``). The rest is cash. They must be finite, >= 0 and sum to
at most 1: the engine turns a pair's weights into a long/short spread when asked. Sessions
without a decision yet (warm-up) are cash.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, Literal, Self, get_type_hints

import numpy as np
import pandas as pd

from bot.backtest.codes import Codes, encode
from bot.backtest.market import MarketData
from bot.core.params import DetectorParams
from bot.errors import StrategyError

Array = np.ndarray
Trades = Literal["pair", "baskets"]


def param(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: Sequence[str] | None = None,
) -> Any:
    """Declare a strategy parameter: a dataclass field carrying its help and its bounds."""
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter as the command line shows it."""

    name: str
    kind: type
    default: object
    help: str
    minimum: float | None
    maximum: float | None
    choices: tuple[str, ...] | None


class Strategy(ABC):
    """Base of every strategy (subclasses are ``@dataclass(frozen=True, slots=True)``)."""

    __slots__ = ()
    name: ClassVar[str]
    trades: ClassVar[Trades] = "pair"
    """What the strategy's assets are: one pair of baskets, or every configured basket."""

    def __post_init__(self) -> None:
        for spec in param_specs(type(self)):
            problem = _check_value(spec, getattr(self, spec.name))
            if problem:
                raise ValueError(f"{spec.name}: {problem}")

    @abstractmethod
    def warmup(self, params: DetectorParams) -> int:
        """Sessions of basket history needed before the weights are meaningful."""

    @classmethod
    @abstractmethod
    def grid_weights(cls, data: MarketData, combos: Sequence[Self]) -> Array:
        """Return target weights ``(sessions, len(combos), assets)``; row t uses data <= t."""

    @classmethod
    def grid_codes(cls, data: MarketData, combos: Sequence[Self]) -> Codes:
        """Return the weights of ``grid_weights`` as codes (``bot.backtest.codes``).

        What a sweep calls. This default encodes ``grid_weights``; a strategy may override it
        with a faster rule giving the same weights (a test compares the two).
        """
        return encode(np.asarray(cls.grid_weights(data, combos), dtype="float64"))

    def params(self) -> dict[str, object]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]


@cache  # every new parameter set is checked against these; sweeps make thousands
def param_specs(cls: type[Strategy]) -> tuple[ParamSpec, ...]:
    """Return the parameters of a strategy class, in declaration order."""
    hints = get_type_hints(cls)
    out = []
    for f in fields(cls):  # type: ignore[arg-type]
        meta = f.metadata
        choices = meta.get("choices")
        out.append(
            ParamSpec(
                name=f.name,
                kind=hints[f.name],
                default=f.default,
                help=str(meta.get("help", "")),
                minimum=meta.get("minimum"),
                maximum=meta.get("maximum"),
                choices=tuple(choices) if choices else None,
            )
        )
    return tuple(out)


def _check_value(spec: ParamSpec, value: object) -> str | None:
    if spec.choices is not None and value not in spec.choices:
        return f"must be one of {', '.join(spec.choices)}; got {value!r}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Only floats can be NaN or infinite; an int beyond 64 bits must not reach numpy.
        if isinstance(value, int) and abs(value) >= 2**31:  # no window or count is that long
            return f"is far too large: {value!r}"
        if isinstance(value, float) and not math.isfinite(value):
            return f"must be a finite number, got {value!r}"
        if spec.minimum is not None and value < spec.minimum:
            return f"must be at least {spec.minimum:g}, got {value!r}"
        if spec.maximum is not None and value > spec.maximum:
            return f"must be at most {spec.maximum:g}, got {value!r}"
    return None


def compute_weights(strategy: Strategy, data: MarketData) -> pd.DataFrame:
    """Run a strategy and check what it returned; a plug-in failure becomes StrategyError."""
    return pd.DataFrame(
        compute_grid(type(strategy), data, [strategy])[:, 0, :],
        index=data.sessions,
        columns=list(data.assets),
    )


def compute_grid(cls: type[Strategy], data: MarketData, combos: Sequence[Strategy]) -> Array:
    """Run ``cls.grid_weights`` and check its output, as ``compute_weights`` does."""
    _check_layout(cls, data)
    try:
        values = np.asarray(cls.grid_weights(data, combos), dtype="float64")
    except Exception as exc:
        raise StrategyError(f"strategy {cls.name} failed: {exc!r}") from exc
    expected = (len(data.sessions), len(combos), len(data.assets))
    if values.shape != expected:
        raise StrategyError(f"strategy {cls.name} returned shape {values.shape}, not {expected}")
    _check_values(cls, values)
    return values


def compute_codes(cls: type[Strategy], data: MarketData, combos: Sequence[Strategy]) -> Codes:
    """Run ``cls.grid_codes`` and check what it returned, as ``compute_grid`` does."""
    _check_layout(cls, data)
    try:
        found = cls.grid_codes(data, combos)
    except Exception as exc:
        raise StrategyError(f"strategy {cls.name} failed: {exc!r}") from exc
    codes, palette = found.codes, np.asarray(found.palette, dtype="float64")
    expected = (len(combos), len(data.sessions))
    if codes.shape != expected or palette.ndim != 2 or palette.shape[1] != len(data.assets):
        raise StrategyError(
            f"strategy {cls.name} returned codes {codes.shape} and a palette {palette.shape}, "
            f"not {expected} and (rows, {len(data.assets)})"
        )
    if codes.size and (codes.min() < 0 or codes.max() >= len(palette)):
        raise StrategyError(f"strategy {cls.name} returned codes outside its palette")
    _check_values(cls, palette)
    return Codes(codes, palette)


def _check_layout(cls: type[Strategy], data: MarketData) -> None:
    if (cls.trades == "pair") != (data.pair is not None):
        wanted = "a pair of baskets" if cls.trades == "pair" else "every basket"
        raise StrategyError(f"strategy {cls.name} trades {wanted}, not {', '.join(data.assets)}")


def _check_values(cls: type[Strategy], values: Array) -> None:
    if not np.isfinite(values).all():
        raise StrategyError(f"strategy {cls.name} returned NaN or infinite weights")
    if (values < 0).any() or (_total(values) > 1 + 1e-9).any():
        raise StrategyError(f"strategy {cls.name}: weights must be >= 0 and sum to at most 1")


def _total(values: Array) -> Array:
    """Return ``values.sum(axis=-1)``; numpy reduces a short last axis slowly, so by hand."""
    out: Array = values[..., 0].copy()
    for k in range(1, values.shape[-1]):
        out += values[..., k]
    return out


# -- helpers for vectorised strategies -------------------------------------------------------


def ffill(signal: Array, fill: float = 0.0) -> Array:
    """Carry the last non-NaN value down axis 0; ``fill`` before the first one."""
    idx = np.arange(len(signal)).reshape((-1,) + (1,) * (signal.ndim - 1))
    last = np.maximum.accumulate(np.where(np.isnan(signal), -1, idx), axis=0)
    taken = np.take_along_axis(signal, np.maximum(last, 0), axis=0)
    out: Array = np.where(last >= 0, taken, fill)
    return out


def carry(codes: Array) -> Array:
    """Carry the last non-zero code down axis 0 (0 before the first): ``ffill`` for codes."""
    idx = np.arange(len(codes)).reshape((-1,) + (1,) * (codes.ndim - 1))
    last = np.maximum.accumulate(np.where(codes != 0, idx, -1), axis=0)
    taken = np.take_along_axis(codes, np.maximum(last, 0), axis=0)
    out: Array = np.where(last >= 0, taken, 0)
    return out


def run_length(flags: Array) -> Array:
    """Return, per position, how many consecutive True values end there (down axis 0)."""
    idx = np.arange(len(flags)).reshape((-1,) + (1,) * (flags.ndim - 1))
    last_false = np.maximum.accumulate(np.where(flags, -1, idx), axis=0)
    out: Array = np.where(flags, idx - last_false, 0)
    return out


def hysteresis(up: Array, down: Array, confirm: Array) -> Array:
    """Return +1 after ``confirm`` sessions of ``up``, -1 after as many of ``down``, else hold.

    Before the first confirmed signal the state is 0.
    """
    signal = np.where(run_length(up) >= confirm, 1.0, np.nan)
    signal = np.where(run_length(down) >= confirm, -1.0, signal)
    return ffill(signal)


PAIR_PALETTE = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
"""Codes of a pair strategy: 0 cash, 1 the numerator basket, 2 the denominator, 3 benchmark."""


def pick_baskets(side: Array, benchmark: Array | None = None) -> Array:
    """Turn a side per session and combo (+1 numerator, -1 denominator, 0 cash) into weights
    on the pair's three assets.

    ``benchmark`` (same shape, 0 or 1) puts that share into the benchmark instead.
    """
    out = np.zeros((*side.shape, 3))
    out[..., 0] = side > 0
    out[..., 1] = side < 0
    if benchmark is not None:
        out[..., 2] = benchmark
    return out


def momentum(levels: pd.Series, lookbacks: Sequence[int]) -> Array:
    """Return the ``n``-session return of ``levels`` for each lookback: ``(sessions, len)``."""
    values = levels.to_numpy()
    out = np.full((len(values), len(lookbacks)), np.nan)
    for j, n in enumerate(lookbacks):
        out[n:, j] = values[n:] / values[:-n] - 1.0
    return out


def on_schedule(sessions: int, every: Array) -> Array:
    """Return ``(sessions, combos)`` True on every ``every``-th session, counted from the first."""
    out: Array = (np.arange(sessions)[:, None] % every[None, :]) == 0
    return out


def column(combos: Sequence[object], name: str, dtype: str = "float64") -> Array:
    """Return one parameter of every combo as an array shaped ``(combos,)``."""
    return np.array([getattr(c, name) for c in combos], dtype=dtype)


def unique_index(values: Array) -> tuple[list[int], Array]:
    """Return the distinct values (as ints) and, per combo, the position of its value."""
    distinct, where = np.unique(values, return_inverse=True)
    return [int(v) for v in distinct], where
