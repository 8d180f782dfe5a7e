"""``python -m tinygrad_lite iris ...``: the same command line as ``tinygrad-lite``."""

import sys

from .cli import main

sys.exit(main())
