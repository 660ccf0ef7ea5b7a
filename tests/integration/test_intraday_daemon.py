"""The checks during the session through the CLI: a rehearsal from a folder of bars with the
clock at each check, the real python-telegram-bot client against the fake Bot API, and a
SIGKILL between the outbox write and the send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from bot.cli.main import main
from tests.fake_telegram import TOKEN, FakeTelegram, Slow, config_text, market_closes, write_market

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
NY = ZoneInfo("America/New_York")
CLOSES = market_closes()
SHOCK_DAY = CLOSES.index[-1].date()  # the synthetic market's rotation session


def write_gap_at_open(folder: Path, day: date) -> Path:
    """5-minute bars of ``day``: each ticker's whole session move from the first bar on."""
    folder.mkdir(parents=True, exist_ok=True)
    pos = CLOSES.index.get_loc(pd.Timestamp(day))
    close = CLOSES.iloc[pos]  # the whole move is in the first bar: flat after the open
    starts = pd.date_range(datetime.combine(day, time(9, 30), NY), periods=78, freq="5min")
    for t in CLOSES.columns:
        rows = [f"{s.isoformat()},{close[t]},{close[t]},{close[t]},{close[t]},100" for s in starts]
        (folder / f"{t}.csv").write_text("datetime,open,high,low,close,volume\n" + "\n".join(rows))
    return folder


@pytest.fixture
def setup(tmp_path: Path, fake: FakeTelegram) -> Path:
    prices = write_market(tmp_path / "prices")
    bars = write_gap_at_open(tmp_path / "bars", SHOCK_DAY)
    config = tmp_path / "config.toml"
    text = config_text(prices, fake.api_base_url, chat_ids=(111, 222), chips_name="Chips")
    config.write_text(f'{text}\n[intraday]\nenabled = true\ncsv_dir = "{bars}"\n')
    return config


def rehearsal(config: Path) -> list[str]:
    day = str(SHOCK_DAY)
    return ["--config", str(config), "daemon", "--simulate-from", day, "--simulate-to", day]


def warnings_to(fake: FakeTelegram, chat: int) -> list[str]:
    return [d.text for d in fake.messages(chat) if "IN PROGRESS" in d.text]


def test_a_rehearsal_runs_the_checks_at_their_times_offline(
    setup: Path,
    fake: FakeTelegram,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ROTABOT_TELEGRAM_TOKEN", TOKEN)
    assert main(rehearsal(setup)) == 0
    for chat in (111, 222):
        [warning] = warnings_to(fake, chat)
        assert "In progress, 10:30 ET: Chips" in warning
        alerts = [d.text for d in fake.messages(chat) if "SEVERE" in d.text or "ALERT" in d.text]
        assert len(alerts) == 1 and "First flagged at 10:30 ET" in alerts[0]
    photos = [d for d in fake.messages(111) if d.filename and d.filename.startswith("session-")]
    assert len(photos) == 1 and photos[0].photo and photos[0].photo[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["--config", str(setup), "status"]) == 0
    out = capsys.readouterr().out
    assert f"rehearsal checks {SHOCK_DAY}: 10:30 read, 12:00 read, 14:00 read, 15:15 read" in out
    assert "chips/platforms chips->platforms first flagged at 10:30, confirmed" in out
    assert main(rehearsal(setup)) == 0  # a second rehearsal sends nothing twice
    assert len(warnings_to(fake, 111)) == 1


def daemon_process(config: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ROTABOT_TELEGRAM_TOKEN": TOKEN, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "bot", "--log-level", "INFO", *rehearsal(config)]
    return subprocess.Popen(
        argv, env=env, cwd=config.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_sigkill_after_the_warning_is_queued_then_a_restart_delivers_it_once(
    setup: Path, fake: FakeTelegram
) -> None:
    # Telegram takes chat 111's warning and is slow to confirm: the process is killed while
    # chat 222's warning sits in the outbox, written and never sent.
    fake.script("sendPhoto", Slow(60))
    first = daemon_process(setup)
    try:
        fake.wait_for(lambda: len(fake.calls_to("sendPhoto")) == 1, timeout=60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    assert first.returncode == -signal.SIGKILL
    assert warnings_to(fake, 222) == []
    second = daemon_process(setup)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert len(warnings_to(fake, 111)) == 1  # taken before the kill: not sent again
    assert len(warnings_to(fake, 222)) == 1  # queued before the kill: sent once after it
    assert TOKEN not in out + err
