"""``python -m thpsim``: the same as the ``thpsim`` command."""

import sys

from thpsim.cli import main

sys.exit(main())
