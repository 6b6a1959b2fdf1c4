"""A database that refuses a connection answers 503 with Retry-After, never a 500.

PostgreSQL refuses new connections when its `max_connections` are all in use (a
burst of requests: each request served by Django holds one while it runs) or while
it restarts; a deadlock or a lost connection is an OperationalError too. Each of
these passes, so the answer is "try again shortly", not "something broke". Under
/api/ it is the API's JSON error; elsewhere the site's 503 page, rendered as the 500
page is, without reading the member, the session or the database (whatever asks
for one would fail the same way).
"""

from __future__ import annotations

import logging

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.deprecation import MiddlewareMixin

from livepeer_ai.gateway.api_errors import API_PREFIX, error

logger = logging.getLogger(__name__)

RETRY_AFTER_S = 5
MESSAGE = "The gateway's database is busy or restarting and could not serve this request. Try again in a few seconds."


# SQLite's OperationalError also says a table or column is missing: a deploy that did not
# migrate, which no retry mends. It stays a 500, logged with its traceback.
NOT_TRANSIENT = ("no such table", "no such column")


def passes(exception: Exception) -> bool:
    """Whether the database error is one a retry in a few seconds may not meet again."""
    return isinstance(exception, OperationalError) and not str(exception).startswith(NOT_TRANSIENT)


class DatabaseUnavailable(MiddlewareMixin):
    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not passes(exception):
            return None
        logger.warning("503 for %s %s: the database refused: %s", request.method, request.path, exception)
        if request.path.startswith(API_PREFIX):
            response: HttpResponse = error(503, MESSAGE)
        else:
            page = loader.get_template("503.html").render({"message": MESSAGE})
            response = HttpResponse(page, status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
