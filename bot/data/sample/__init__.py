"""A small price sample shipped inside the package: the default tickers and benchmark,
2023-01-03 to 2025-12-31, in the CSV format ``bot.data.csv_source`` reads (see SOURCES.md
here). ``rotabot demo`` runs on it with no network; ``tools/make_sample.py`` regenerates it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent
FIRST = date(2023, 1, 3)
LAST = date(2025, 12, 31)
