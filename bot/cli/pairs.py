"""``--pair A/B``: pick one watched pair, or refuse naming the ones configured."""

from __future__ import annotations

from bot.config import Config
from bot.core.params import Pair
from bot.errors import UsageError, did_you_mean


def chosen_pair(config: Config, text: str | None) -> Pair | None:
    """Return the configured pair ``text`` names (None when no ``--pair`` was given).

    Raises:
        UsageError: the text is not a configured pair (the message lists them).
    """
    if text is None:
        return None
    keys = [p.key for p in config.pairs]
    for pair in config.pairs:
        if pair.key == text.strip():
            return pair
    hint = did_you_mean(text.strip(), keys)
    # A short prefix only: the argument may be pasted garbage of any length.
    raise UsageError(
        f"--pair {text[:60]!r} is not a watched pair{hint}; configured: {', '.join(keys)}"
    )
