"""Production settings without the default rate limit, for the web process of the Redis-outage test.

Until the rate limiter fails open when Redis is down (issue 9, item 1, another change), every
throttled endpoint answers that outage with a 503; this lets the test reach the endpoints behind
it. Drop it (and its use in tests/test_outage_errors.py) once the limiter fails open.
"""

from __future__ import annotations

from claudeflow_site.settings import *  # noqa: F403
from claudeflow_site.settings import REST_FRAMEWORK

REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}
