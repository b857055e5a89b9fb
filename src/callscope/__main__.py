"""``python -m callscope`` is the ``callscope`` command."""

import sys

from callscope.cli import main

sys.exit(main())
