"""`python -m meterlocal ...` runs the command line."""

from meterlocal.cli import main

raise SystemExit(main())
