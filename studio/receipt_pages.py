"""Pages of the receipts the gateway stored (the receipt checked again, and its JSON document), shown to
whoever may see the output they are for."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from livepeer_ai.gateway.models import Receipt as StoredReceipt
from livepeer_ai.gateway.receipts import verify_stored
from livepeer_ai.payments.receipts import ReceiptInvalid, document_to_json
from studio.media import may_see_files_of


def _stored_receipt(request: HttpRequest, receipt_id: str) -> StoredReceipt:
    """The receipt, if its output is one this viewer may see (studio/media.py); others learn nothing."""
    stored = get_object_or_404(StoredReceipt.objects.select_related("job"), id=receipt_id)
    if not may_see_files_of(stored.job, request):
        raise Http404("No such receipt.")
    return stored


@require_GET
def receipt_detail(request: HttpRequest, receipt_id: str) -> HttpResponse:
    stored = _stored_receipt(request, receipt_id)
    context = {"stored": stored, "document_json": document_to_json(stored.document)}
    try:
        context["verified"] = verified = verify_stored(stored)
        context["receipt"] = verified.receipt
    except ReceiptInvalid as exc:
        context.update(invalid=str(exc), receipt=exc.receipt)
    return render(request, "gateway/receipt.html", context)


@require_GET
def receipt_json(request: HttpRequest, receipt_id: str) -> HttpResponse:
    stored = _stored_receipt(request, receipt_id)
    response = HttpResponse(document_to_json(stored.document), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="receipt-{stored.id}.json"'
    return response
