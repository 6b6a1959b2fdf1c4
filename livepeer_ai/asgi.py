from __future__ import annotations

import os
from typing import Any, cast

from django.core.asgi import get_asgi_application
from starlette.types import ASGIApp

from livepeer_ai.body_limit import MAX_BODY_BYTES, BodySizeLimit


def leave_forms_to_django() -> None:
    """Under daphne, stop Twisted parsing multipart bodies: Django does, within its limits.

    Twisted reads a multipart POST into memory and parses it before daphne hands the
    raw body on (daphne never looks at the result): a 45 MB upload took daphne from
    156 MB to a 746 MB peak. And a body it cannot parse got Twisted's own empty 400,
    never the API's JSON error. `_parsePOSTFormSubmission` is Twisted's switch for it.
    """
    try:
        from daphne.http_protocol import WebRequest
    except ImportError:
        return
    init = WebRequest.__init__

    def __init__(self: WebRequest, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self._parsePOSTFormSubmission = False

    WebRequest.__init__ = __init__


os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
leave_forms_to_django()
django_asgi_app = get_asgi_application()

# Consumers import models, so they load only after Django is set up.
from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from dashboard.routing import websocket_urlpatterns as dashboard_websockets  # noqa: E402
from studio.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Django reads a body without Content-Length whole and unbounded, then parses it as empty.
        "http": BodySizeLimit(cast(ASGIApp, django_asgi_app), MAX_BODY_BYTES, buffer_chunked=True),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns + dashboard_websockets))
        ),
    }
)
