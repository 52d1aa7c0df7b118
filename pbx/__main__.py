"""``python -m pbx``: the command line in :mod:`pbx.cli`."""

import sys

from .cli import main

sys.exit(main())
