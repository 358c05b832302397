from __future__ import annotations

import sys

from mnemo.cli import main

sys.exit(main())
