"""``python -m manualgrad`` is the ``manualgrad`` command."""

import sys

from .cli import main

sys.exit(main())
