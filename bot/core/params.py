"""What the core is asked to watch: baskets, pairs of baskets, a benchmark and thresholds.

The core's own parameter types. The configuration layer builds them from TOML; the core never
imports the configuration, so it can be driven from a test, a notebook or a backtest alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Basket:
    """A named group of tickers traded and measured as one equal- or fixed-weight index."""

    key: str
    name: str
    tickers: tuple[str, ...]
    weights: tuple[float, ...] | None = None

    def weight_map(self) -> dict[str, float]:
        """Return each member's raw weight (1.0 each when no weights are configured)."""
        weights = self.weights or (1.0,) * len(self.tickers)
        return dict(zip(self.tickers, weights, strict=True))

    @property
    def short_name(self) -> str:
        """The name without its parenthesis: "Chips (shovel sellers)" -> "Chips"."""
        return self.name.split(" (")[0].strip() or self.key


@dataclass(frozen=True, slots=True)
class Pair:
    """Two baskets whose ratio is watched: ``numerator / denominator``."""

    numerator: str
    denominator: str

    @property
    def key(self) -> str:
        """The pair as users write it: "chips/platforms"."""
        return f"{self.numerator}/{self.denominator}"

    @property
    def keys(self) -> tuple[str, str]:
        return self.numerator, self.denominator

    @classmethod
    def parse(cls, text: str) -> Pair:
        """Read "a/b"; raise ValueError when the text is not two keys around one slash."""
        parts = text.strip().split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f"{text!r} is not a pair: write it as numerator/denominator")
        return cls(parts[0].strip(), parts[1].strip())

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Benchmark:
    ticker: str = "^GSPC"
    name: str = "S&P 500"


@dataclass(frozen=True, slots=True)
class DetectorParams:
    """Thresholds and windows of the rotation detector (see ``bot.core.rotation``)."""

    short_window: int = 63
    long_window: int = 756
    min_history: int = 120
    shock_info: float = 2.5
    shock_alert: float = 3.0
    shock_severe: float = 4.0
    min_breadth: float = 0.6
    max_benchmark_share: float = 0.6
    ma_short: int = 50
    ma_long: int = 200
    regime_band: float = 0.02
    regime_band_vol: float = 0.75
    regime_confirm: int = 3
    quadrant_margin: float = 0.25
    rrg_window: int = 63
    driver_count: int = 2


@dataclass(frozen=True, slots=True)
class Universe:
    """Everything the core watches. ``pairs`` is never empty; baskets keep file order."""

    baskets: tuple[Basket, ...]
    pairs: tuple[Pair, ...]
    benchmark: Benchmark = field(default_factory=Benchmark)
    params: DetectorParams = field(default_factory=DetectorParams)

    def basket(self, key: str) -> Basket:
        for b in self.baskets:
            if b.key == key:
                return b
        raise KeyError(key)

    def pair(self, key: str) -> Pair:
        for p in self.pairs:
            if p.key == key:
                return p
        raise KeyError(key)

    @property
    def basket_tickers(self) -> tuple[str, ...]:
        """Every basket member once, in file order (a ticker may sit in several baskets)."""
        return tuple(dict.fromkeys(t for b in self.baskets for t in b.tickers))

    @property
    def tickers(self) -> tuple[str, ...]:
        """Every ticker needed: basket members, then the benchmark."""
        return (*self.basket_tickers, self.benchmark.ticker)

    def pair_tickers(self, pair: Pair) -> tuple[str, ...]:
        """The members of the pair's two baskets, numerator's first."""
        return (*self.basket(pair.numerator).tickers, *self.basket(pair.denominator).tickers)
