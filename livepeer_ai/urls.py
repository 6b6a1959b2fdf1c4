from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve

from livepeer_ai.gateway.api import api
from livepeer_ai.gateway.metrics import metrics_view
from studio.urls import sign_in


def media(request: HttpRequest, path: str) -> HttpResponse:
    # MEDIA_ROOT read per request, not captured when the URLconf loads.
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    # The admin's sign-in counts against the same limits as the studio's: one account, one budget.
    path("admin/login/", sign_in(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("metrics", metrics_view, name="metrics"),
    path("dashboard/models/", include("livepeer_ai.registry.urls")),
    path("", include("livepeer_ai.payments.urls")),
    path("", include("dashboard.urls")),
    path("", include("studio.urls")),
]

if settings.SERVE_MEDIA:
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", media)]
