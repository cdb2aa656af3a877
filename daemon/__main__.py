"""`python -m daemon` runs the officeflow command line."""

from daemon.cli import main

raise SystemExit(main())
