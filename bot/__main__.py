"""Entry point for ``python -m bot``; the commands live in :mod:`bot.cli`."""

from bot.cli.main import main

raise SystemExit(main())
