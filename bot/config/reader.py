"""Typed reads from a parsed TOML table that collect every problem instead of stopping.

``bot.config.load`` walks the file once with a :class:`Reader`; each read returns a usable value
(the default when the value is bad) and records a problem with its dotted path, so the user
sees all the mistakes in one go.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

from bot.errors import did_you_mean

T = TypeVar("T")


def _finite(value: object) -> float | None:
    """Return ``value`` as a finite float, or None (NaN, infinity, a 400-digit integer)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _type_name(value: object) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(value), type(value).__name__
    )


class Reader:
    """Read typed values from one TOML table, appending problems to a shared list."""

    def __init__(self, table: Mapping[str, object], path: str, problems: list[str]) -> None:
        self.table = table
        self.path = path
        self.problems = problems

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.where(key)}: {message}")

    def check_keys(self, known: Iterable[str], kind: str = "key") -> None:
        """Report keys of the table that are not in ``known``, with a suggestion."""
        known = list(known)
        for key in self.table:
            if key not in known:
                self.problem(key, f"unknown {kind}{did_you_mean(key, known)}")

    def sub(self, key: str) -> Reader:
        """Return a reader for the sub-table ``key`` (empty when absent or not a table)."""
        value = self.table.get(key, {})
        if not isinstance(value, Mapping):
            self.problem(key, f"must be a table ([{self.where(key)}]), got {_type_name(value)}")
            value = {}
        return Reader(value, self.where(key), self.problems)

    def _typed(self, key: str, default: T, types: tuple[type, ...], want: str) -> T:
        if key not in self.table:
            return default
        value = self.table[key]
        # bool is a subclass of int: a `true` where a number is wanted is a mistake.
        if isinstance(value, types) and not (isinstance(value, bool) and bool not in types):
            return value  # type: ignore[return-value]
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        self.problem(key, f"must be {want}, got {_type_name(value)} {shown}")
        return default

    def string(self, key: str, default: str, *, non_empty: bool = True) -> str:
        value = self._typed(key, default, (str,), "a string")
        if non_empty and not value.strip():
            self.problem(key, "must not be empty")
            return default
        return value

    def boolean(self, key: str, default: bool) -> bool:
        return self._typed(key, default, (bool,), "true or false")

    def integer(self, key: str, default: int, *, minimum: int | None = None) -> int:
        value = self._typed(key, default, (int,), "an integer")
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum}, got {value}")
            return default
        return value

    def number(
        self,
        key: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
    ) -> float:
        value = _finite(self._typed(key, default, (int, float), "a number"))
        if value is None:
            self.problem(key, "must be a finite number of a sensible size")
            return default
        if minimum is not None and value < minimum:
            self.problem(key, f"must be at least {minimum:g}, got {value:g}")
            return default
        if maximum is not None and value > maximum:
            self.problem(key, f"must be at most {maximum:g}, got {value:g}")
            return default
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.string(key, default)
        if value not in choices:
            options = ", ".join(repr(c) for c in choices)
            self.problem(
                key, f"must be one of {options}, got {value!r}{did_you_mean(value, choices)}"
            )
            return default
        return value

    def list_of(self, key: str, default: tuple[T, ...], item: type[T], want: str) -> tuple[T, ...]:
        if key not in self.table:
            return default
        value = self.table[key]
        if not isinstance(value, list):
            self.problem(key, f"must be a list of {want}, got {_type_name(value)} {value!r}")
            return default
        bad = [
            i
            for i, v in enumerate(value)
            if not isinstance(v, item) or (isinstance(v, bool) and item is not bool)
        ]
        if item is float:
            bad = [
                i
                for i, v in enumerate(value)
                if isinstance(v, bool) or not isinstance(v, int | float)
            ]
        if item is float:
            bad = bad or [i for i, v in enumerate(value) if _finite(v) is None]
        if bad:
            shown = repr(value[bad[0]])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            self.problem(f"{key}[{bad[0]}]", f"must be {want}, got {shown}")
            return default
        return tuple(item(v) for v in value)  # type: ignore[call-arg]
