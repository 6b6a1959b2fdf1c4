from __future__ import annotations

from django.urls import path

from livepeer_ai.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("propose/", views.propose, name="model-propose"),
    path("<int:entry_id>/", views.model_detail, name="model-detail"),
    path("<int:entry_id>/status/", views.change_status, name="model-status"),
]
