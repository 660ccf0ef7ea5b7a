"""The PriceSource seam: anything that can deliver a PricePanel for tickers and dates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol

from bot.core.panel import PricePanel


class PriceSource(Protocol):
    """Deliver daily bars.

    ``fetch`` returns every asked ticker as a column (all-NaN when the source has nothing for
    it) for sessions from ``start`` to ``end`` inclusive (``end=None``: up to the latest).
    Implementations raise ``DataUnavailable`` for transient failures and ``DataError`` for
    data that is there but unusable.
    """

    name: str

    def fetch(self, tickers: Sequence[str], start: date, end: date | None = None) -> PricePanel: ...
