from __future__ import annotations

from django.urls import path

from livepeer_ai.gateway import receipt_pages

urlpatterns = [
    path("receipts/<uuid:receipt_id>/", receipt_pages.receipt_detail, name="receipt-detail"),
    path("receipts/<uuid:receipt_id>/receipt.json", receipt_pages.receipt_json, name="receipt-json"),
]
