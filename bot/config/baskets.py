"""Baskets and the pairs watched among them: ``[baskets.<key>]`` and ``[watch] pairs``.

Any number of baskets (at least two). A ticker may sit in several baskets, but never on both
sides of one pair: its move would count for and against the rotation at once. Pairs default to
the first two baskets in file order, so a one-pair file of the first version reads unchanged.
"""

from __future__ import annotations

import re

from bot.config.model import DEFAULT_BASKETS, MAX_PAIRS, Config, WatchConfig
from bot.config.reader import Reader
from bot.core.params import Basket, Pair
from bot.errors import did_you_mean

TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9^.=\-]{0,14}$")
BASKET_KEY = re.compile(r"^[a-z0-9_]+$")
MAX_RRG_TAIL = 250


def read_tickers(r: Reader, key: str) -> tuple[str, ...]:
    tickers = tuple(t.strip().upper() for t in r.list_of(key, (), str, "ticker strings"))
    for i, t in enumerate(tickers):
        if not TICKER.match(t):
            r.problem(f"{key}[{i}]", f"{t!r} is not a ticker symbol")
    seen: set[str] = set()
    for t in tickers:
        if t in seen:
            r.problem(key, f"{t} is listed twice")
        seen.add(t)
    return tickers


def read_baskets(r: Reader) -> tuple[Basket, ...]:
    """Read ``[baskets.<key>]`` tables in file order (the defaults when there are none)."""
    if not r.table:
        return DEFAULT_BASKETS
    baskets = [_basket(r, key) for key in r.table]
    if len(baskets) < 2:
        r.problems.append(
            f"baskets: at least two baskets are needed to watch a rotation, got {len(baskets)}"
        )
    return tuple(baskets)


def _basket(r: Reader, key: str) -> Basket:
    if not BASKET_KEY.match(key):
        r.problem(key, "basket keys are lower-case letters, digits and _ (like ai_chips)")
    b = r.sub(key)
    b.check_keys(("name", "tickers", "weights"))
    if "tickers" not in b.table:
        b.problem("tickers", "missing: list the basket's ticker symbols")
    tickers = read_tickers(b, "tickers")
    if "tickers" in b.table and not tickers and isinstance(b.table["tickers"], list):
        b.problem("tickers", "must not be empty")
    weights = b.list_of("weights", (), float, "numbers") or None
    if weights is not None:
        if len(weights) != len(tickers):
            b.problem("weights", f"has {len(weights)} value(s) but tickers has {len(tickers)}")
        if any(w <= 0 for w in weights):
            b.problem("weights", "every weight must be greater than 0")
    return Basket(key, b.string("name", key), tickers, weights)


def read_watch(r: Reader, baskets: tuple[Basket, ...]) -> WatchConfig:
    """Read ``[watch]``: the pairs (``"numerator/denominator"``) and the RRG tail length."""
    r.check_keys(("pairs", "rrg_tail"))
    texts = r.list_of("pairs", (), str, 'pairs like "chips/platforms"')
    if len(texts) > MAX_PAIRS:
        r.problem("pairs", f"{len(texts)} pairs listed; at most {MAX_PAIRS} are watched")
    raw = r.table.get("pairs")
    if isinstance(raw, list) and not raw:  # [] itself, not a list whose items were refused
        r.problem("pairs", "must not be empty (leave it out to watch the first two baskets)")
    by_key = {b.key: b for b in baskets}
    pairs: list[Pair] = []
    seen: dict[frozenset[str], int] = {}
    for i, text in enumerate(texts):
        pair = _pair(r, f"pairs[{i}]", text, by_key)
        if pair is None:
            continue
        both = frozenset(pair.keys)
        if both in seen:
            r.problem(
                f"pairs[{i}]", f"{text!r} repeats watch.pairs[{seen[both]}] (either way round)"
            )
            continue
        seen[both] = i
        pairs.append(pair)
    tail = r.integer("rrg_tail", WatchConfig().rrg_tail, minimum=1)
    if tail > MAX_RRG_TAIL:
        r.problem("rrg_tail", f"at most {MAX_RRG_TAIL} sessions, got {tail}")
    return WatchConfig(tuple(pairs), tail)


def _pair(r: Reader, where: str, text: str, by_key: dict[str, Basket]) -> Pair | None:
    try:
        pair = Pair.parse(text)
    except ValueError as exc:
        r.problem(where, str(exc))
        return None
    for key in pair.keys:
        if key not in by_key:
            r.problem(where, f"unknown basket {key!r}{did_you_mean(key, by_key)}")
            return None
    if pair.numerator == pair.denominator:
        r.problem(where, f"{text!r} pairs a basket with itself")
        return None
    shared = sorted(set(by_key[pair.numerator].tickers) & set(by_key[pair.denominator].tickers))
    if shared:
        r.problem(
            where,
            f"{', '.join(shared)} sits on both sides of {pair.key}; "
            "a ticker may be in several baskets but not on both sides of one pair",
        )
        return None
    return pair


def cross_checks(config: Config, problems: list[str]) -> None:
    """Checks across sections: default pair overlap, the benchmark not being a member."""
    if len(config.baskets) >= 2 and not config.watch.pairs:
        a, b = config.baskets[0], config.baskets[1]
        shared = sorted(set(a.tickers) & set(b.tickers))
        if shared:
            problems.append(
                f"baskets.{b.key}.tickers: {', '.join(shared)} also in baskets.{a.key}; the "
                f"default pair {a.key}/{b.key} cannot have a ticker on both sides"
            )
    bench = config.benchmark.ticker
    for basket in config.baskets:
        if bench in basket.tickers:
            problems.append(
                f"benchmark.ticker: {bench} is a member of baskets.{basket.key}; "
                "pick a market index or ETF"
            )
            break
