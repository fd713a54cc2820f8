"""``python -m pgcheck_cli``: the same as the ``pgcheck`` console script."""

import sys

from pgcheck_cli.main import main

sys.exit(main())
