"""The public receipt check: any output against any receipt document (the stored ones: studio/receipt_pages.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from livepeer_ai.payments.forms import VerifyReceiptForm
from livepeer_ai.payments.receipts import ReceiptInvalid, ReceiptMalformed, verify_receipt


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
