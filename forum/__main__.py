"""`python -m forum` runs the same command line as the `forum` script."""

from forum.cli import main

raise SystemExit(main())
