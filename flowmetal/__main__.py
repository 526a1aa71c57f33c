"""``python -m flowmetal`` is the ``flowmetal`` command."""

import sys

from .cli import main

sys.exit(main())
