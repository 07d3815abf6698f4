"""``python -m conversion``: the same as the ``deberta-convert`` console script."""

import sys

from .cli import main

sys.exit(main())
