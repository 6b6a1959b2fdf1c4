from __future__ import annotations

from django.urls import path

from studio.consumers import JobProgressConsumer, UnreadNotificationsConsumer

websocket_urlpatterns = [
    path("ws/jobs/<uuid:job_id>/", JobProgressConsumer.as_asgi()),
    path("ws/notifications/", UnreadNotificationsConsumer.as_asgi()),
]
