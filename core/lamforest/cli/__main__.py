"""``python -m lamforest.cli``: the same as the ``lamforest`` command."""

import sys

from lamforest.cli import console

sys.exit(console())
