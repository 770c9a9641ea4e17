"""``python -m rl_lab.cli ...`` is ``rl-lab ...``."""

import sys

from rl_lab.cli import main

sys.exit(main())
