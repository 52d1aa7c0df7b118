"""``python -m pbx``: the command line in :mod:`pbx.listener.cli`."""

import sys

from .listener.cli import main

sys.exit(main())
