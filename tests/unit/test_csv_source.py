"""CSV folder source: values, and every bad-data error names the file and line."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.data.checks import BadPrices, Rules
from bot.data.csv_source import (
    CHECKS,
    CsvSource,
    PriceRows,
    careful_rows,
    check_dates,
    check_has_prices,
    check_order,
    check_positive,
    fast_rows,
    read_price_csv,
)
from bot.errors import DataError

HEADER = "date,open,high,low,close,adj_close,volume\n"
CHECKED = Rules("XNYS", max_move=3.0)  # as rules_for(config) gives with the defaults


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
        ("2024-01-05,,,,,1,\n2024-01-06,,,,,1,\n", ":3:", "2024-01-06 is a Saturday"),
        ("2024-01-02,,,,,1,\n2024-01-03,,,,,2\n", ":3:", "6 field(s) where the header has 7"),
        ("2024-01-02,,,,,1,\n2024-01-03,,,,,2,,\n", ":3:", "8 field(s) where the header has 7"),
        ("", ":1:", "no prices (only a header)"),
        ("2024-01-02,1,,,,,\n", ":2:", "no prices (no adj_close)"),
        ("2099-01-02,,,,,1,\n", ":2:", "2099-01-02 is in the future"),
        ("2024-01-02,,,,,1,\n2024-01-03,,,,,5,\n", ":3:", "BAD 2024-01-03: adj_close moved x5"),
        ("2024-01-02,,,,,1,\n2024-01-03,,,,,0.2,\n", ":3:", "adj_close moved /5"),
    ],
)
def test_bad_rows_name_file_and_line(tmp_path: Path, body: str, where: str, what: str) -> None:
    path = write(tmp_path, "BAD", body)
    with pytest.raises(DataError) as info:
        CsvSource(tmp_path, CHECKED).fetch(["BAD"], date(2000, 1, 1))
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


# -- the two parsers agree ------------------------------------------------------------------

# Mostly plain cells (one in ten odd), so that many files reach the fast parser's end.
PLAIN = st.floats(min_value=1e-6, max_value=1e6).map(repr) | st.integers(0, 10**7).map(str)
ODD = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers().map(str),
    st.sampled_from(["", " ", "nan", "inf", "-0", "+5", " 12.5 ", "1e-400", "1_000", ".5", "5."]),
)
CELLS = st.integers(0, 9).flatmap(lambda k: ODD if k == 0 else st.just("") if k == 1 else PLAIN)
ODD_DAYS = st.sampled_from(["2024-1-2", " 2024-01-02 ", "2024-02-30", "0001-01-01", "20240102", ""])
DAYS = st.integers(0, 9).flatmap(lambda k: ODD_DAYS if k == 0 else st.dates().map(date.isoformat))


@st.composite
def plain_files(draw: st.DrawFn) -> bytes:
    """Files a careless export could write: shuffled columns, odd cells, CRLF, blank lines."""
    header = draw(st.permutations(["date", "open", "close", "adj_close", "volume", "note"]))
    rows = []
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        cells = [draw(DAYS) if c == "date" else draw(CELLS) for c in header]
        rows.append(",".join(cells))
        if draw(st.integers(0, 19)) == 0:
            rows.append("")
    end = draw(st.sampled_from(["\n", "\r\n"]))
    case = draw(st.sampled_from([str.lower, str.upper, str.title]))
    text = end.join([",".join(case(c) for c in header), *rows]) + draw(st.sampled_from(["", end]))
    return text.encode()


def outcome(parse: Callable[[], PriceRows]) -> tuple[str, object, object]:
    try:
        rows = parse()
    except DataError as exc:
        return ("error", str(exc), None)
    # NaN compares unequal to itself: show unknown cells as None (and -0.0 equals 0.0).
    values = [[None if np.isnan(v) else v for v in row] for row in rows.values.tolist()]
    return ("rows", rows.dates.tolist(), values)


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=plain_files())
def test_the_fast_parser_reads_what_the_careful_one_reads_or_declines(
    tmp_path: Path, data: bytes
) -> None:
    path = tmp_path / "T.csv"
    path.write_bytes(data)
    fast = fast_rows(data)
    if fast is not None:  # accepted: exactly the careful parser's rows
        assert outcome(lambda: fast) == outcome(lambda: careful_rows(data, path))


def test_real_files_take_the_fast_path_and_match_the_careful_one(real_prices: Path) -> None:
    for path in sorted(real_prices.glob("*.csv"))[:6]:
        data = path.read_bytes()
        fast = fast_rows(data)
        assert fast is not None, path
        assert outcome(lambda: fast) == outcome(lambda: careful_rows(data, path))  # noqa: B023


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ("", ":1: empty file"),
        ('date,adj_close\n"2024-01-02",1\n2024-01-02,2\n', ":3: duplicate date"),
        ("date,adj_close\r\n2024-01-02,1\r\n\r\n2024-01-01,2\r\n", ":3: dates not sorted"),
        ("date,adj_close\n2024-01-02,nan\n", ":2: column adj_close: not a finite number 'nan'"),
        ("date,adj_close\n2024-01-02,1\n2024-01-03,1e999\n", ":3: column adj_close"),
        ("date,adj_close\n2024-01-02,0\n", ":2: adj_close must be positive"),
    ],
)
def test_files_the_fast_parser_declines_are_still_checked_by_line(
    tmp_path: Path, body: str, what: str
) -> None:
    path = tmp_path / "BAD.csv"
    path.write_text(body)
    with pytest.raises(DataError, match=re.escape(f"{path}{what}")):
        CsvSource(tmp_path).fetch(["BAD"], date(2000, 1, 1))


def test_rows_before_the_start_are_cut_but_still_checked(tmp_path: Path) -> None:
    write(tmp_path, "OLD", "1999-01-04,,,,,1,\n1999-01-04,,,,,1,\n2024-01-02,,,,,2,\n")
    with pytest.raises(DataError, match=r"OLD\.csv:3: duplicate date 1999-01-04"):
        CsvSource(tmp_path).fetch(["OLD"], date(2020, 1, 1))
    write(tmp_path, "NEW", "1999-01-04,,,,,1,\n2024-01-02,,,,,2,\n")
    rows = read_price_csv(tmp_path / "NEW.csv", date(2020, 1, 1))
    assert rows.dates.tolist() == [datetime(2024, 1, 2)] and rows.values[0, 4] == 2.0


def test_a_new_check_is_one_function_in_checks() -> None:
    assert check_order in CHECKS and check_positive in CHECKS
    assert check_dates in CHECKS and check_has_prices in CHECKS


def test_holidays_follow_the_configured_calendar(tmp_path: Path) -> None:
    write(tmp_path, "AAA", "2024-12-24,,,,,1,\n2024-12-25,,,,,1,\n2024-12-26,,,,,1,\n")
    write(tmp_path, "BBB", "2024-12-24,,,,,1,\n2024-12-26,,,,,1,\n")
    with pytest.raises(DataError, match=r"AAA\.csv:3: 2024-12-25 is not a XNYS session"):
        CsvSource(tmp_path, CHECKED).fetch(["AAA", "BBB"], date(2024, 1, 1))
    assert len(CsvSource(tmp_path).fetch(["AAA", "BBB"], date(2024, 1, 1)).dates) == 3
    # A weekday every file lists is the data's own calendar (some vendors list holidays).
    write(tmp_path, "BBB", "2024-12-24,,,,,1,\n2024-12-25,,,,,1,\n2024-12-26,,,,,1,\n")
    assert len(CsvSource(tmp_path, CHECKED).fetch(["AAA", "BBB"], date(2024, 1, 1)).dates) == 3
    with pytest.raises(DataError, match=r"2024-12-25 is in the future \(today is 2024-12-24\)"):
        CsvSource(tmp_path, Rules("XNYS", date(2024, 12, 24))).fetch(["AAA"], date(2024, 1, 1))


def test_a_jump_the_other_files_share_is_kept_and_a_lone_one_is_refused(tmp_path: Path) -> None:
    for ticker in ("AAA", "BBB", "CCC"):
        write(tmp_path, ticker, "2024-01-02,,,,,10,\n2024-01-03,,,,,11,\n2024-01-04,,,,,40,\n")
    panel = CsvSource(tmp_path, CHECKED).fetch(["AAA", "BBB", "CCC"], date(2024, 1, 1))
    assert panel.adj_close.iloc[-1].tolist() == [40.0] * 3
    for ticker in ("BBB", "CCC"):
        write(tmp_path, ticker, "2024-01-02,,,,,10,\n2024-01-03,,,,,11,\n2024-01-04,,,,,12,\n")
    with pytest.raises(BadPrices, match=r"AAA\.csv:4: AAA 2024-01-04: adj_close moved x3\.636"):
        CsvSource(tmp_path, CHECKED).fetch(["AAA", "BBB", "CCC"], date(2024, 1, 1))
    bound = CsvSource(tmp_path, Rules("XNYS", max_move=4.0))  # data.max_daily_move
    assert len(bound.fetch(["AAA", "BBB", "CCC"], date(2024, 1, 1)).dates) == 3
