"""Allow ``python -m dmnpharm``."""

import sys

from dmnpharm.cli import main

sys.exit(main())
