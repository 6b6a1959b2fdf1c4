"""The app's own settings, with a secret key made for this test run.

Production refuses to start without SECRET_KEY; the suite runs as production does
(DEBUG false), so it makes a random key here. It goes into the environment, so the
processes the tests start (daphne, workers, nodes, runners) share it: a session made
in this process is valid in theirs.
"""

from __future__ import annotations

import os
import secrets

os.environ.setdefault("SECRET_KEY", f"tests-only-{secrets.token_urlsafe(40)}")

from livepeer_ai.settings import *  # noqa: E402, F403

# Each test's Django client builds the middleware afresh, and WhiteNoise, started in its usual mode,
# lists every static file each time (about 8 % of the in-process tests' CPU). Asked to recheck the
# folders instead, it finds each file when it is requested, in the same folders, with the same headers.
WHITENOISE_AUTOREFRESH = True
