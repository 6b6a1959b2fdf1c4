from __future__ import annotations

from django.urls import path

from dashboard.consumers import NetworkConsumer, NodeConsumer

websocket_urlpatterns = [
    path("ws/dashboard/nodes/<str:address>/", NodeConsumer.as_asgi()),
    path("ws/network/", NetworkConsumer.as_asgi()),
]
