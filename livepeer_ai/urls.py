from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path

from livepeer_ai.gateway.api import api
from livepeer_ai.gateway.metrics import metrics_view
from studio.media import media
from studio.urls import sign_in

urlpatterns = [
    # The admin's sign-in counts against the same limits as the studio's: one account, one budget.
    path("admin/login/", sign_in(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    re_path(r"^media/(?P<path>.*)$", media, name="media"),
    path("dashboard/models/", include("livepeer_ai.registry.urls")),
    path("", include("livepeer_ai.payments.urls")),
    path("", include("dashboard.urls")),
    path("", include("studio.urls")),
]
