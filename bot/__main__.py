"""Allow ``python -m bot`` to behave like the ``rotabot`` console script."""

from bot.cli.main import main

raise SystemExit(main())
