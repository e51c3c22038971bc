"""``python -m swalp``: the ``swalp`` command line."""

import sys

from swalp.cli import main

sys.exit(main())
