"""``rotabot scorecard``: reproducible baselines, delivered alerts first, replay otherwise."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from bot.cli.main import main
from tests.integration.test_cli import csv_world  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scorecard_of_a_replay_is_reproducible(
    capsys: pytest.CaptureFixture[str],
    csv_world: tuple[Path, Path],  # noqa: F811
) -> None:
    folder, config = csv_world
    argv = ["--config", str(config), "--prices-dir", str(folder), "scorecard"]
    argv += ["--format", "json", "--draws", "1000", "--seed", "5"]
    code, out, _ = _run(capsys, *argv)
    assert code == 0
    first = json.loads(out)
    assert first["source"] == "replay" and first["rows"]
    row = first["rows"][0]
    assert set(row["horizons"]) == {"1", "5", "20"}
    base = row["horizons"]["1"]["baseline"]
    assert base["draws"] == 1000 and 0.0 <= base["percentile"] <= 100.0
    _, again, _ = _run(capsys, *argv)
    assert json.loads(again) == first  # same seed, same draws, same percentiles
    _, other, _ = _run(capsys, *argv[:-1], "6")
    assert json.loads(other)["rows"][0]["horizons"]["1"]["baseline"]["seed"] != base["seed"]


def test_scorecard_text_and_bad_input(
    capsys: pytest.CaptureFixture[str],
    csv_world: tuple[Path, Path],  # noqa: F811
) -> None:
    folder, config = csv_world
    base = ["--config", str(config), "--prices-dir", str(folder), "scorecard"]
    code, out, _ = _run(capsys, *base)
    assert code == 0 and out.startswith("Scorecard ") and "percentile" in out
    code, _, err = _run(capsys, *base, "--start", "2021-01-01", "--end", "2020-01-01")
    assert code == 2 and "is after" in err and "Traceback" not in err
    code, _, err = _run(capsys, *base, "--pair", "no/such")
    assert code == 2 and "not a watched pair" in err


@pytest.mark.realdata
def test_a_severe_only_rehearsal_pushes_only_severe_events_once_and_scores_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, real_prices: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[data]\nsource = "csv"\ncsv_dir = "{real_prices}"\n[state]\npath = "state.db"\n'
        '[telegram]\nchat_ids = [111, 222]\ncharts = false\nmin_severity = "severe"\n'
    )
    base = ["--config", str(config)]
    window = ["--start", "2024-11-01", "--end", "2025-02-28"]
    code, out, _ = _run(capsys, *base, "replay", *window, "--format", "json")
    found = [json.loads(line) for line in out.splitlines()]
    severe = {e["date"] for e in found if e["severity"] == "severe"}
    assert severe and len(severe) < len({e["date"] for e in found})  # there is something to cut
    rehearse = ["daemon", "--simulate-from", "2024-11-01", "--simulate-to", "2025-02-28"]
    for run in range(2):  # a second rehearsal over the same range sends nothing again
        code, out, _ = _run(capsys, *base, *rehearse)
        assert code == 0
        heads = [line for line in out.splitlines() if line.startswith("--- alert")]
        alerts = re.findall(r"<b>(\w+) · [^<]* · (\d{4}-\d{2}-\d{2})</b>", out)
        if run == 0:
            assert sorted(h.split(" to ")[1] for h in heads) == sorted(
                ["chat 111 (HTML) ---", "chat 222 (HTML) ---"] * len(severe)
            )
            assert {d for level, d in alerts} == severe and {lv for lv, _d in alerts} == {"SEVERE"}
        else:
            assert heads == []
    code, out, _ = _run(capsys, *base, "scorecard", *window, "--format", "json")
    card = json.loads(out)
    assert card["source"] == "state"
    assert {r["severity"] for r in card["rows"]} == {"severe"}
    assert sum(r["count"] for r in card["rows"]) == len(
        [e for e in found if e["severity"] == "severe"]
    )


def test_scorecard_bounds_its_draws_and_seed(
    capsys: pytest.CaptureFixture[str],
    csv_world: tuple[Path, Path],  # noqa: F811
) -> None:
    folder, config = csv_world
    base = ["--config", str(config), "--prices-dir", str(folder), "scorecard"]
    for bad, said in (
        (["--seed", "-5"], "must be 0 or more"),
        (["--draws", "100000000"], "100000"),
    ):
        with pytest.raises(SystemExit) as info:
            main([*base, *bad])
        assert info.value.code == 2 and said in capsys.readouterr().err


def test_only_the_events_of_a_pair_whose_alert_went_out_count(tmp_path: Path) -> None:
    from contextlib import closing
    from datetime import date

    from bot.store.db import connect
    from bot.store.history import delivered_events
    from bot.store.state import StateStore

    day = date(2025, 1, 27)
    with closing(connect(tmp_path / "state.db")) as conn:
        store = StateStore(conn)
        store.start(day)
        evs = [{"pair": p, "kind": "shock", "severity": "severe"} for p in ("a/b", "c/d")]
        parts = [{"type": "text", "text": "x", "label": "text"}]
        store.finish(day, "done", evs, [(f"{day} a/b shock a->b", "alert", parts)], [1], 0.1)
        assert delivered_events(conn, day, day) == []  # queued, not yet sent
        conn.execute("UPDATE outbox SET status = 'sent'")
        assert [e["pair"] for e in delivered_events(conn, day, day)] == ["a/b"]
