"""``python -m raynas`` runs the command line."""

from raynas.cli import main

raise SystemExit(main())
