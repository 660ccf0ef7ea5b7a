"""Help text shared by the subcommands: an epilog of examples, and the formatter that keeps it.

argparse re-wraps every text into one paragraph, which would run the example commands into
one line; ``Formatter`` wraps descriptions as usual and prints an epilog starting with
"examples:" exactly as written.
"""

from __future__ import annotations

import argparse
from typing import Any

DATES = "Dates are YYYY-MM-DD (a session's date in New York)."


class Formatter(argparse.HelpFormatter):
    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


def examples(*commands: str, dates: bool = False) -> dict[str, Any]:
    """Return ``add_parser`` keyword arguments: an epilog listing ``commands`` (and saying the
    date format when the command takes dates)."""
    text = "examples:\n" + "".join(f"  {c}\n" for c in commands)
    if dates:
        text += f"\n{DATES}\n"
    return {"epilog": text, "formatter_class": Formatter}
