"""Values the rotation engine hands out: frozen dataclasses, JSON-ready through ``to_json``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from bot.core.record import TrackRecord


class Severity(StrEnum):
    INFO = "info"
    ALERT = "alert"
    SEVERE = "severe"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class Quadrant(StrEnum):
    """RRG quadrants of one series relative to another."""

    LEADING = "Leading"
    WEAKENING = "Weakening"
    LAGGING = "Lagging"
    IMPROVING = "Improving"


Evidence = dict[str, float | str | None]


@dataclass(frozen=True, slots=True)
class Driver:
    """A basket member's move on the event's session (simple return, 0.05 = +5%)."""

    ticker: str
    basket: str
    move: float

    def to_json(self) -> dict[str, object]:
        return {"ticker": self.ticker, "basket": self.basket, "move": round(self.move, 6)}


@dataclass(frozen=True, slots=True)
class RotationEvent:
    """One detected rotation: money moved from basket ``from_basket`` to ``to_basket``."""

    date: date
    kind: str  # "shock" or "regime"
    from_basket: str
    to_basket: str
    severity: Severity
    score: float
    summary: str
    drivers: tuple[Driver, ...] = ()
    evidence: Evidence = field(default_factory=dict)
    pair: str = ""  # "chips/platforms": numerator/denominator of the pair it was found on
    reverses: dt.date | None = None  # the recent shock this one reverses, if any
    track_record: TrackRecord | None = None  # the earlier events like it, and what followed

    @classmethod
    def from_json(cls, row: dict[str, object], default_pair: str = "") -> RotationEvent:
        """Read an event back from its JSON (a state file's), without its track record."""
        drivers, evidence = row.get("drivers") or [], row.get("evidence") or {}
        if not isinstance(drivers, list) or not isinstance(evidence, dict):
            raise ValueError(f"not an event: {str(row)[:80]}")
        reverses = row.get("reverses")
        return cls(
            dt.date.fromisoformat(str(row["date"])),
            str(row["kind"]),
            str(row["from"]),
            str(row["to"]),
            Severity(str(row["severity"])),
            float(row["score"]),  # type: ignore[arg-type]
            str(row.get("summary", "")),
            tuple(Driver(str(d["ticker"]), str(d["basket"]), float(d["move"])) for d in drivers),
            dict(evidence),
            str(row.get("pair") or default_pair),
            dt.date.fromisoformat(str(reverses)) if reverses else None,
        )

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "pair": self.pair,
            "kind": self.kind,
            "from": self.from_basket,
            "to": self.to_basket,
            "severity": self.severity.value,
            "score": round(self.score, 4),
            "summary": self.summary,
            "drivers": [d.to_json() for d in self.drivers],
            "evidence": {k: _round(v) for k, v in self.evidence.items()},
            "reverses": self.reverses.isoformat() if self.reverses else None,
            "track_record": self.track_record.to_json() if self.track_record else None,
        }


@dataclass(frozen=True, slots=True)
class SignalState:
    """The rotation picture of one pair at one session's close."""

    date: date
    pair: str
    ratio: float
    ratio_ma_short: float | None
    ratio_ma_long: float | None
    trend: float | None  # ratio / long MA - 1 (Mansfield-style relative strength)
    regime: str  # basket key in the lead by the long-MA rule, or "neutral"
    quadrant: Quadrant | None  # numerator basket vs denominator basket
    rs_ratio: float | None
    rs_momentum: float | None
    indicators: dict[str, float | None]
    basket_returns: dict[str, float | None]
    benchmark_return: float | None
    basket_quadrants: dict[str, Quadrant | None]
    events: tuple[RotationEvent, ...]
    notes: tuple[str, ...] = ()
    shock_score: float | None = None  # the session's shock score, whether or not it fired
    no_shock_because: str | None = None  # the rule that stopped it, in words (None: a shock)

    def to_json(self) -> dict[str, object]:
        return {
            "date": self.date.isoformat(),
            "pair": self.pair,
            "ratio": _round(self.ratio),
            "quadrant": self.quadrant.value if self.quadrant else None,
            "regime": self.regime,
            "trend": {
                "ratio_ma_short": _round(self.ratio_ma_short),
                "ratio_ma_long": _round(self.ratio_ma_long),
                "vs_long_ma": _round(self.trend),
                "rs_ratio": _round(self.rs_ratio),
                "rs_momentum": _round(self.rs_momentum),
            },
            "indicators": {k: _round(v) for k, v in self.indicators.items()},
            "returns": {k: _round(v) for k, v in self.basket_returns.items()}
            | {"benchmark": _round(self.benchmark_return)},
            "basket_quadrants": {
                k: (q.value if q else None) for k, q in self.basket_quadrants.items()
            },
            "events": [e.to_json() for e in self.events],
            "notes": list(self.notes),
            "shock": {"score": _round(self.shock_score), "no_shock_because": self.no_shock_because},
        }


@dataclass(frozen=True, slots=True)
class BasketReading:
    """One basket against the benchmark at a close (RRG approximation)."""

    key: str
    rs_ratio: float | None
    rs_momentum: float | None
    quadrant: Quadrant | None

    def to_json(self) -> dict[str, object]:
        return {
            "rs_ratio": _round(self.rs_ratio),
            "rs_momentum": _round(self.rs_momentum),
            "quadrant": self.quadrant.value if self.quadrant else None,
        }


@dataclass(frozen=True, slots=True)
class Picture:
    """Every watched pair and every basket at one session's close; ``pairs`` in config order."""

    date: date
    pairs: tuple[SignalState, ...]
    baskets: tuple[BasketReading, ...]

    @property
    def events(self) -> tuple[RotationEvent, ...]:
        return tuple(e for p in self.pairs for e in p.events)

    def pair(self, key: str) -> SignalState:
        for state in self.pairs:
            if state.pair == key:
                return state
        raise KeyError(key)

    def to_json(self, pair: str | None = None) -> dict[str, object]:
        """The chosen pair's picture (the first by default) at the top level, as the one-pair
        version printed it, plus ``pairs`` (every pair in that shape) and ``baskets``."""
        main = self.pair(pair) if pair else self.pairs[0]
        return main.to_json() | {
            "pairs": [p.to_json() for p in self.pairs],
            "baskets": {b.key: b.to_json() for b in self.baskets},
        }


def _round(value: float | str | None) -> float | str | None:
    if isinstance(value, float):
        return None if value != value else round(value, 6)  # NaN -> null
    return value
