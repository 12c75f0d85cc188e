"""`python -m service.cli`, as the `replaydesk` script."""

from service.cli import main

raise SystemExit(main())
