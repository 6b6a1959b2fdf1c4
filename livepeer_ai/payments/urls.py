from __future__ import annotations

from django.urls import path

from livepeer_ai.payments import views

urlpatterns = [
    path("receipts/verify/", views.verify, name="receipt-verify"),
]
