from __future__ import annotations

from django.urls import path

from livepeer_ai.payments import views

urlpatterns = [
    path("receipts/verify/", views.verify, name="receipt-verify"),
    path("receipts/<uuid:receipt_id>/", views.receipt_detail, name="receipt-detail"),
    path("receipts/<uuid:receipt_id>/receipt.json", views.receipt_json, name="receipt-json"),
]
