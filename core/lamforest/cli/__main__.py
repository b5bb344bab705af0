"""``python -m lamforest.cli``: the same as the ``lamforest`` command."""

import sys

from lamforest.cli.main import main

sys.exit(main())
