"""`python -m triage.cli`."""

import sys

from triage.cli import main

sys.exit(main())
