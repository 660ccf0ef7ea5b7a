"""The ``rotabot`` command line (see ``bot.cli.main``)."""

from bot.cli.main import main

__all__ = ["main"]
