"""Allow ``python -m bot`` to behave like the ``rotabot`` console script."""

from bot.cli import main

raise SystemExit(main())
