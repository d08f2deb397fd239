"""tests.settings with FIELD_ENCRYPTION_KEY taken from $FASTPIX_TEST_ENCRYPTION_KEY.

For commands run in a child process under another key than the one the rows were written with.
"""

from __future__ import annotations

import os

from tests.settings import *  # noqa: F403

FIELD_ENCRYPTION_KEY = os.environ["FASTPIX_TEST_ENCRYPTION_KEY"]
