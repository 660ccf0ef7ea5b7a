"""CSV folder source: values, and every bad-data error names the file and line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bot.data.csv_source import CsvSource
from bot.errors import DataError

HEADER = "date,open,high,low,close,adj_close,volume\n"


def write(folder: Path, ticker: str, body: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{ticker}.csv"
    path.write_text(HEADER + body)
    return path


def test_reads_fields_and_empty_cells_as_nan(tmp_path: Path) -> None:
    write(tmp_path, "AAA", "2024-01-02,,,,,10.5,\n2024-01-03,1,2,0.5,1.5,11,100\n")
    write(tmp_path, "^IDX", "2024-01-03,,,,,5000,\n")
    panel = CsvSource(tmp_path).fetch(["AAA", "^IDX"], date(2024, 1, 1))
    assert panel.tickers == ["AAA", "^IDX"]
    assert panel.adj_close.loc["2024-01-02", "AAA"] == 10.5
    assert np.isnan(panel.close.loc["2024-01-02", "AAA"])
    assert panel.volume.loc["2024-01-03", "AAA"] == 100
    assert np.isnan(panel.adj_close.loc["2024-01-02", "^IDX"])


def test_start_and_end_are_inclusive(tmp_path: Path) -> None:
    rows = "".join(f"2024-01-0{d},,,,,{d},\n" for d in range(2, 6))
    write(tmp_path, "AAA", rows)
    panel = CsvSource(tmp_path).fetch(["AAA"], date(2024, 1, 3), date(2024, 1, 4))
    assert [d.day for d in panel.dates] == [3, 4]


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("2024-01-02,,,,,1,\n2024-13-01,,,,,2,\n", ":3:", "unparseable date '2024-13-01'"),
        (
            "2024-01-02,,,,,1,\n2024-01-03,,,,abc,2,\n",
            ":3:",
            "column close: not a finite number 'abc'",
        ),
        ("2024-01-03,,,,,1,\n2024-01-02,,,,,2,\n", ":3:", "dates not sorted"),
        ("2024-01-02,,,,,1,\n2024-01-02,,,,,2,\n", ":3:", "duplicate date 2024-01-02"),
        ("2024-01-02,,,,,-1,\n", ":2:", "adj_close must be positive"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, body: str, where: str, what: str) -> None:
    path = write(tmp_path, "BAD", body)
    with pytest.raises(DataError) as info:
        CsvSource(tmp_path).fetch(["BAD"], date(2000, 1, 1))
    message = str(info.value)
    assert f"{path}{where}" in message and what in message


def test_missing_file_and_missing_column(tmp_path: Path) -> None:
    write(tmp_path, "AAA", "2024-01-02,,,,,1,\n")
    with pytest.raises(DataError, match=r"no price file for ZZZ, YYY"):
        CsvSource(tmp_path).fetch(["AAA", "ZZZ", "YYY"], date(2000, 1, 1))
    (tmp_path / "NOADJ.csv").write_text("date,close\n2024-01-02,1\n")
    with pytest.raises(DataError, match=r"NOADJ.csv:1: missing column\(s\) adj_close"):
        CsvSource(tmp_path).fetch(["NOADJ"], date(2000, 1, 1))
    with pytest.raises(DataError, match="price folder not found"):
        CsvSource(tmp_path / "nope").fetch(["AAA"], date(2000, 1, 1))


def test_reads_the_real_files(real_prices: Path) -> None:
    panel = CsvSource(real_prices).fetch(["NVDA", "SNDK", "^GSPC"], date(2024, 6, 1))
    # NVDA's 10:1 split on 2024-06-10 is already on today's basis: no 90% drop.
    r = panel.adj_close["NVDA"].pct_change(fill_method=None)
    assert r.abs().max() < 0.3
    assert panel.adj_close["SNDK"].first_valid_index().date() == date(2025, 2, 13)
    assert panel.dates[-1].date() == date(2025, 12, 31)
