from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

from livepeer_ai.body_limit import MAX_BODY_BYTES, BodySizeLimit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "livepeer_ai.settings")
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
        "http": BodySizeLimit(django_asgi_app, MAX_BODY_BYTES, buffer_chunked=True),
        "websocket": AllowedHostsOriginValidator(
            AuthMiddlewareStack(URLRouter(websocket_urlpatterns + dashboard_websockets))
        ),
    }
)
