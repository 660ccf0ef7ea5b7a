"""The ``rotabot`` command line: argparse subcommands, each ``run(args, config) -> int``.

Only argparse and the config are imported here; pandas, yfinance and telegram are imported by
the command modules when a command needs them, so ``rotabot --help`` stays fast.
Exit status: 0 ok, 1 runtime failure (data source down, ...), 2 user error (config, input).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.cli.helptext import examples
from bot.errors import BotError, UserError

if TYPE_CHECKING:
    from bot.config import Config

log = logging.getLogger("bot")


def iso_date(text: str) -> date:
    """Parse YYYY-MM-DD for argparse, with a message that says what was expected."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (want YYYY-MM-DD)") from None


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _draws(text: str) -> int:
    value = positive_int(text)
    if not 1 <= value <= 100_000:
        raise argparse.ArgumentTypeError(f"must be between 1 and 100000, got {value}")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


Runner = Callable[[argparse.Namespace, "Config"], int]


def _command(module: str) -> Runner:
    """Return a runner that imports ``bot.cli.<module>`` only when the command runs."""

    def run(args: argparse.Namespace, config: Config) -> int:
        mod = importlib.import_module(f"bot.cli.{module}")
        result: int = getattr(mod, f"run_{args.command.replace('-', '_')}")(args, config)
        return result

    return run


def _global_options(parser: argparse.ArgumentParser, top: bool) -> None:
    """Add the options every command takes. They work before the command or after it
    (``rotabot signal --offline``); after it, an option left out keeps the value given before
    the command, so defaults are set on the top-level parser only."""
    missing: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "--config",
        metavar="PATH",
        **missing,
        help="config file (default: $ROTABOT_CONFIG, then ./config.toml, then "
        "$XDG_CONFIG_HOME/rotabot/config.toml, then built-in defaults; see `rotabot paths`)",
    )
    parser.add_argument(
        "--prices-dir",
        metavar="DIR",
        type=Path,
        **missing,
        help="read prices from this folder of <TICKER>.csv files for this command",
    )
    parser.add_argument(
        "--offline",
        action="store_true",
        **missing,
        help="use cached prices as they are; never contact the data source",
    )
    parser.add_argument(
        "--log-format",
        choices=["text", "json"],
        **_default(top, "text"),
        help="stderr log lines: text, or one JSON object per line",
    )
    parser.add_argument(
        "--log-level",
        **_default(top, "WARNING"),
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="stderr log level",
    )


def _default(top: bool, value: str) -> dict[str, Any]:
    return {"default": value if top else argparse.SUPPRESS}


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser that ends a command line (the subcommands, and their subcommands)."""
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):
                out += _leaves(child) or [child]
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rotabot",
        description="Watch money rotate between AI chip makers and AI platforms.",
        **examples(
            "rotabot demo                      # the main job on the sample in the package",
            "rotabot --offline signal --asof 2025-01-27",
            dates=True,
        ),
    )
    parser.add_argument("--version", action="version", version=f"rotabot {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "check-config",
        help="validate and print the effective configuration",
        **examples("rotabot check-config", "rotabot --config ~/bot.toml check-config"),
    )
    p.set_defaults(func=_command("config"))

    prices = sub.add_parser(
        "prices",
        help="update or inspect the price cache",
        **examples("rotabot prices update", "rotabot prices show NVDA --tail 5"),
    )
    psub = prices.add_subparsers(dest="prices_command", metavar="ACTION", required=True)
    p = psub.add_parser(
        "update",
        help="fetch new bars into the cache",
        **examples("rotabot prices update", "rotabot --prices-dir ./prices prices update"),
    )
    p.set_defaults(func=_command("prices"), command="prices-update")
    p = psub.add_parser(
        "show",
        help="print a ticker's bars",
        **examples("rotabot prices show NVDA", "rotabot --offline prices show ^GSPC --tail 20"),
    )
    p.add_argument("ticker", help="the ticker, as Yahoo spells it (NVDA, ^GSPC)")
    p.add_argument("--tail", type=positive_int, default=10, metavar="N", help="last N rows")
    p.set_defaults(func=_command("prices"), command="prices-show")

    _add_engine_commands(sub)
    _add_daemon_commands(sub)
    # Each feature area declares its own subcommands (argparse only, no heavy imports).
    from bot.cli import backtest_args as cli_backtest
    from bot.cli import setup_args as cli_setup
    from bot.cli import telegram_args as cli_telegram

    cli_telegram.add_commands(sub, _command)
    cli_backtest.add_commands(sub, _command)
    cli_setup.add_commands(sub, _command)
    from bot.cli import intraday as cli_intraday

    cli_intraday.add_command(sub, _command)
    for leaf in _leaves(parser):
        _global_options(leaf, top=False)
    return parser


def _add_engine_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    fmt = {"choices": ["text", "json"], "default": "text", "help": "output format"}
    p = sub.add_parser(
        "signal",
        help="the rotation state at a session's close",
        **examples("rotabot signal", "rotabot signal --asof 2025-01-27 --format json", dates=True),
    )
    p.add_argument(
        "--asof", type=iso_date, metavar="DATE", help="session, YYYY-MM-DD (default: latest)"
    )
    p.add_argument("--format", **fmt)  # type: ignore[arg-type]
    p.add_argument("--pair", metavar="A/B", help="only this watched pair (default: every pair)")
    p.add_argument(
        "--send",
        action="store_true",
        help="also send the alert (or quiet-day summary) to the configured chats, "
        "once per session and chat (shared with the daemon)",
    )
    p.add_argument(
        "--resend",
        action=_Resend,
        help="like --send, but send again to chats that already got this session's message",
    )
    p.set_defaults(func=_command("signal"))

    p = sub.add_parser(
        "replay",
        help="every rotation that would have fired in a range",
        **examples(
            "rotabot replay --start 2025-01-01 --end 2025-12-31",
            "rotabot replay --start 2024-01-01 --end 2024-12-31 --pair chips/platforms "
            "--format json",
            dates=True,
        ),
    )
    p.add_argument(
        "--start", type=iso_date, required=True, metavar="DATE", help="first session, YYYY-MM-DD"
    )
    p.add_argument(
        "--end", type=iso_date, required=True, metavar="DATE", help="last session, YYYY-MM-DD"
    )
    p.add_argument("--format", **fmt)  # type: ignore[arg-type]
    p.add_argument("--pair", metavar="A/B", help="only this watched pair (default: every pair)")
    p.set_defaults(func=_command("signal"))

    p = sub.add_parser(
        "scorecard",
        help="what followed the bot's alerts: forward returns against random sessions",
        description="Per pair, kind and severity: the spread's move 1, 5 and 20 sessions after "
        "each event (mean, hit rate, Newey-West t) and where that mean stands among random "
        "sessions. Uses the alerts delivered (state file) when there are any, else a replay. "
        "Example: rotabot scorecard --start 2016-01-01 --end 2025-12-31 (dates YYYY-MM-DD).",
    )
    p.add_argument("--pair", metavar="A/B", help="only this watched pair (default: every pair)")
    p.add_argument("--start", type=iso_date, metavar="DATE", help="first session (YYYY-MM-DD)")
    p.add_argument("--end", type=iso_date, metavar="DATE", help="last session (YYYY-MM-DD)")
    p.add_argument("--format", **fmt)  # type: ignore[arg-type]
    p.add_argument(
        "--source",
        choices=["auto", "state", "replay"],
        default="auto",
        help="delivered alerts from the state file, a replay, or auto (state when it has any)",
    )
    p.add_argument("--draws", type=_draws, default=2000, help="random draws (1000 to 100000)")
    p.add_argument("--seed", type=_seed, default=20161, help="seed of the random draws (0 or more)")
    p.set_defaults(func=_command("scorecard"))


class _Resend(argparse.Action):
    """``--resend``: ``--send``, forced (sets both)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, default=False, **kwargs)  # type: ignore[arg-type]

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        namespace.send = namespace.resend = True


def _add_daemon_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "daemon",
        aliases=["run"],
        help="run the daily job on every session (and answer Telegram commands)",
        **examples(
            "rotabot daemon",
            "rotabot daemon --simulate-from 2025-01-02 --simulate-to 2025-01-31",
            dates=True,
        ),
    )
    p.add_argument(
        "--simulate-from",
        type=iso_date,
        metavar="DATE",
        help="rehearse the daily job on past sessions from DATE (YYYY-MM-DD), then exit",
    )
    p.add_argument(
        "--simulate-to",
        type=iso_date,
        metavar="DATE",
        help="last session of the rehearsal (YYYY-MM-DD)",
    )
    p.set_defaults(func=_command("daemon"), command="daemon")
    p = sub.add_parser(
        "status",
        help="last run, next run, last alert, outbox, data freshness",
        **examples(
            "rotabot status",
            "rotabot status --format json",
            "rotabot status --check || echo unhealthy  # exit 1 with one line saying why",
        ),
    )
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument(
        "--check",
        action="store_true",
        help="health check: exit 0 when the daemon runs, its last run succeeded and none is "
        "overdue, else 1; prints one line (for Docker's HEALTHCHECK, monitoring)",
    )
    p.set_defaults(func=_command("daemon"))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the traceback, if any)."""

    def format(self, record: logging.LogRecord) -> str:
        import json

        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            # exc_text is what bot.notify.notifiers scrubbed of the token; never format the raw one.
            text = record.exc_text or self.formatException(record.exc_info)
            from bot.notify.notifiers import redact

            entry["traceback"] = redact(text)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("rotabot")
    root = logging.getLogger()
    # Replace only our own handler: a host (pytest's log capture, say) may have its own.
    root.handlers[:] = [h for h in root.handlers if h.get_name() != "rotabot"] + [handler]
    root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        from bot.config import Config, load_config, with_overrides

        if getattr(args, "standalone", False):  # demo, completion: no configuration read
            config = Config()
        else:
            config = with_overrides(load_config(args.config), args.prices_dir, args.offline)
        from bot.store.db import state_errors

        # A locked, damaged or full state file met mid-command is one line, not a traceback.
        with state_errors(config.state.path):
            code: int = args.func(args, config)
        return code
    except UserError as exc:
        print(f"rotabot: error: {exc}", file=sys.stderr)
        return 2
    except BotError as exc:
        print(f"rotabot: failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rotabot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
