"""``python -m datalocality``: the same as the ``datalocality`` command."""

from __future__ import annotations

from datalocality.cli import main

raise SystemExit(main())
