"""The strategy registry: built-in strategies by name, parameters parsed from the command line.

Adding a strategy is one new module in this folder (a ``Strategy`` subclass, see ``base``)
and one ``register(...)`` line below, next to its import. No folder scanning: what is
registered is what this file says.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from bot.backtest.codes import Codes
from bot.backtest.market import MarketData
from bot.errors import UsageError, did_you_mean
from strategies.base import ParamSpec, Strategy, compute_codes, param_specs
from strategies.dual_momentum import DualMomentum
from strategies.rrg import Rrg
from strategies.rs_momentum import RsMomentum
from strategies.rs_trend import RsTrend
from strategies.sector_rotation import SectorRotation
from strategies.shock_fade import ShockFade
from strategies.shock_follow import ShockFollow

_REGISTRY: dict[str, type[Strategy]] = {}


def register(cls: type[Strategy]) -> type[Strategy]:
    """Add a strategy class under its ``name``; a second class with the same name is a bug."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two strategies are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


register(RsMomentum)
register(RsTrend)
register(Rrg)
register(ShockFollow)
register(ShockFade)
register(DualMomentum)
register(SectorRotation)


def names() -> list[str]:
    """Return the registered strategy names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> type[Strategy]:
    """Return the strategy class called ``name``; UsageError with a suggestion otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        hint = did_you_mean(name, _REGISTRY)
        raise UsageError(f"unknown strategy {name!r}{hint} (known: {', '.join(names())})") from None


def build(name: str, params: Mapping[str, str] | None = None) -> Strategy:
    """Return strategy ``name`` with its defaults overridden by ``params`` (text values)."""
    cls = get(name)
    specs = _specs_by_name(cls, params or {})
    values = {key: parse_value(specs[key], text) for key, text in (params or {}).items()}
    return _instance(cls, values)


@dataclass(frozen=True, slots=True)
class Grid:
    """Every combination of a parameter grid, in ``itertools.product`` order (the last key
    varies fastest), each strategy built only when asked for: a grid of a million
    combinations costs its value lists, not a million objects."""

    cls: type[Strategy]
    base: Mapping[str, object]
    keys: tuple[str, ...]
    values: tuple[tuple[object, ...], ...]

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.values)

    def __getitem__(self, index: int) -> Strategy:
        return _instance(self.cls, {**self.base, **self.varied(index)})

    def varied(self, index: int) -> dict[str, object]:
        """Return the grid's parameters of combination ``index`` (its keys, in order)."""
        if not 0 <= index < len(self):
            raise IndexError(index)
        chosen: dict[str, object] = {}
        for key, options in zip(reversed(self.keys), reversed(self.values), strict=True):
            index, at = divmod(index, len(options))
            chosen[key] = options[at]
        return {key: chosen[key] for key in self.keys}

    def __iter__(self) -> Iterator[Strategy]:
        return (self[i] for i in range(len(self)))

    def distinct(self) -> dict[str, list[object]]:
        """Return each varied parameter's values, first occurrence order, repeats dropped."""
        return {k: list(dict.fromkeys(v)) for k, v in zip(self.keys, self.values, strict=True)}


def grid_of(
    name: str, grid: Mapping[str, Sequence[str]], fixed: Mapping[str, str] | None = None
) -> Grid:
    """Return the combinations of the ``grid`` values (text, parsed and checked here).

    ``fixed`` sets parameters that do not vary; a key may not be in both. Each value is
    checked on its own, so a bad one fails here, before any combination is run.
    """
    base = build(name, fixed)
    both = sorted(set(grid) & set(fixed or {}))
    if both:
        raise UsageError(f"{', '.join(both)}: given both as --param and as --grid")
    specs = _specs_by_name(type(base), grid)
    for key, texts in grid.items():
        if not texts:
            raise UsageError(f"--grid {key}: give at least one value")
    values = {key: tuple(parse_value(specs[key], t) for t in texts) for key, texts in grid.items()}
    for key, options in values.items():
        for value in dict.fromkeys(options):
            _instance(type(base), {**base.params(), key: value})
    return Grid(type(base), base.params(), tuple(values), tuple(values.values()))


@dataclass(frozen=True, slots=True)
class GridCodes:
    """A sweep's view of a grid: the targets, as codes, of the combinations at ``indices``.

    Takes the market data as an argument (rather than holding it) so that a cluster can send
    the data to its workers once and this small object with every task.
    """

    grid: Grid

    def __call__(self, data: MarketData, indices: Sequence[int]) -> Codes:
        return compute_codes(self.grid.cls, data, [self.grid[i] for i in indices])


def build_grid(
    name: str, grid: Mapping[str, Sequence[str]], fixed: Mapping[str, str] | None = None
) -> list[Strategy]:
    """Return one strategy per combination of the ``grid`` values (see ``grid_of``)."""
    return list(grid_of(name, grid, fixed))


def parse_value(spec: ParamSpec, text: str) -> object:
    """Parse one command-line value as the parameter's type; UsageError naming it otherwise."""
    text = text.strip()
    try:
        if spec.kind is bool:
            return _boolean(text)
        if spec.kind is int:
            return int(text)
        if spec.kind is float:
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number"}[spec.kind]
        raise UsageError(f"{spec.name}: expected {kind}, got {text!r}") from None
    return text


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "1", "on"):
        return True
    if lowered in ("false", "no", "0", "off"):
        return False
    raise ValueError(text)


def _specs_by_name(cls: type[Strategy], given: Mapping[str, object]) -> dict[str, ParamSpec]:
    specs = {s.name: s for s in param_specs(cls)}
    for key in given:
        if key not in specs:
            known = ", ".join(specs) or "none"
            raise UsageError(
                f"strategy {cls.name} has no parameter {key!r}{did_you_mean(key, specs)} "
                f"(parameters: {known})"
            )
    return specs


def _instance(cls: type[Strategy], values: Mapping[str, object]) -> Strategy:
    try:
        # Strategy subclasses are dataclasses: their constructor takes the parameters.
        strategy: Strategy = cast(Any, cls)(**values)
        return strategy
    except ValueError as exc:
        raise UsageError(f"strategy {cls.name}: {exc}") from None


__all__ = [
    "Grid",
    "GridCodes",
    "ParamSpec",
    "Strategy",
    "build",
    "build_grid",
    "get",
    "grid_of",
    "names",
    "param_specs",
    "register",
]
