"""``python -m station.cli``: the same as the ``gait-station`` console script."""

import sys

from station.cli import main

sys.exit(main())
