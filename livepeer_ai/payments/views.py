"""Receipt pages: check any output against its receipt, and show a stored one to whoever may see its output."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_http_methods

from livepeer_ai.gateway.models import Receipt as StoredReceipt
from livepeer_ai.gateway.receipts import verify_stored
from livepeer_ai.media import may_see_files_of
from livepeer_ai.payments.forms import VerifyReceiptForm
from livepeer_ai.payments.receipts import ReceiptInvalid, ReceiptMalformed, document_to_json, verify_receipt


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return render(request, "payments/verify.html", {"form": VerifyReceiptForm()})
    form = VerifyReceiptForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "payments/verify.html", {"form": form}, status=400)
    try:
        verified = verify_receipt(form.cleaned_data["document"], output_sha256=form.cleaned_data["output_sha256"])
    except ReceiptMalformed as exc:
        return render(request, "payments/verify.html", {"form": form, "malformed": str(exc)}, status=400)
    except ReceiptInvalid as exc:
        # Not bad input: the question was answered, and the answer is no.
        return render(request, "payments/verify.html", {"form": form, "invalid": str(exc), "receipt": exc.receipt})
    context = {"form": form, "verified": verified, "receipt": verified.receipt}
    return render(request, "payments/verify.html", context)


def _stored_receipt(request: HttpRequest, receipt_id: str) -> StoredReceipt:
    """The receipt, if its output is one this viewer may see (livepeer_ai/media.py); others learn nothing."""
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
    return render(request, "payments/receipt.html", context)


@require_GET
def receipt_json(request: HttpRequest, receipt_id: str) -> HttpResponse:
    stored = _stored_receipt(request, receipt_id)
    response = HttpResponse(document_to_json(stored.document), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="receipt-{stored.id}.json"'
    return response
