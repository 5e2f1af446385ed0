"""``python -m nettop``: the same as the ``nettop`` command."""

import sys

from nettop.cli import main

sys.exit(main())
