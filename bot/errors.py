"""The project's exception tree.

Grouped by the reaction each one needs, so callers catch by what they will do::

    BotError                  anything rotabot raises on purpose
    +-- UserError             the user must fix something; CLI exit status 2
    |   +-- ConfigError       bad configuration file or values (lists every problem)
    |   +-- DataError         a bad price file or row (names the file and line)
    |   +-- UsageError        bad command arguments (dates outside the data, ...)
    +-- DataUnavailable       the data source could not deliver; retry later
    +-- StrategyError         a strategy plug-in failed
    +-- NotifyError           a notifier could not deliver

Everything else is a bug and is allowed to surface as a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence


class BotError(Exception):
    """Base class of every error rotabot raises on purpose."""


class UserError(BotError):
    """Something the user must fix; the CLI exits with status 2."""


class ConfigError(UserError):
    """One or more configuration problems, each with a dotted path and a hint."""

    def __init__(self, problems: Sequence[str], source: str = "configuration") -> None:
        self.problems = tuple(problems)
        self.source = source
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{source}: {len(self.problems)} problem(s)\n{lines}")


class DataError(UserError):
    """A price file or row that cannot be used as it is."""


class UsageError(UserError):
    """Command arguments that do not make sense for the data at hand."""


class DataUnavailable(BotError):
    """The data source did not deliver what was asked for (retryable)."""

    def __init__(self, message: str, missing: Sequence[str] = ()) -> None:
        self.missing = tuple(missing)
        super().__init__(message)


class StrategyError(BotError):
    """A strategy plug-in raised or returned something unusable."""


class NotifyError(BotError):
    """A notifier could not deliver a message."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """Return ``", did you mean 'x'?"`` for the closest choice, or ``""`` (for error hints)."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f", did you mean '{close[0]}'?" if close else ""
