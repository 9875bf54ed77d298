"""``python benchmarks/bench.py [options]``: the benchmarks (thpsim.bench, the same as
``thpsim bench``), runnable from a checkout without installing."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from thpsim.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
