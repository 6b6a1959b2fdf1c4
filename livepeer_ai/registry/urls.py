from __future__ import annotations

from django.urls import path

from livepeer_ai.registry import lora_views, views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("propose/", views.propose, name="model-propose"),
    path("<int:entry_id>/", views.model_detail, name="model-detail"),
    path("<int:entry_id>/status/", views.change_status, name="model-status"),
    path("loras/", lora_views.lora_list, name="lora-list"),
    path("loras/propose/", lora_views.propose, name="lora-propose"),
    path("loras/<int:entry_id>/", lora_views.lora_detail, name="lora-detail"),
    path("loras/<int:entry_id>/status/", lora_views.change_status, name="lora-status"),
]
