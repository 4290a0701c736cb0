"""``python -m mt_verify`` = ``mt-verify``."""

import sys

from mt_verify.cli import main

sys.exit(main())
