"""Safe retries for the public API: an `Idempotency-Key` header makes a job once per key.

A client that lost the answer to a submission (a timeout, a 5xx from a proxy)
sends it again with the same key and gets the same job back: the same request
id, the same answer, never a second job charged twice. The key is the client's,
unique per API key (a constraint on `Job`, so two retries racing each other
still make one job); reusing it for a different request is refused with 422.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError
from django.http import HttpRequest

from livepeer_ai.gateway.models import ApiKey, Job

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class KeyRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def key_of(request: HttpRequest) -> str:
    """The request's key ("" without one): 1 to 255 printable ASCII characters."""
    key = request.headers.get(HEADER)
    if key is None:
        return ""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise KeyRefused(400, f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return key


def request_digest(pipeline: str, fields: dict[str, Any], upload: bytes | None) -> str:
    """What makes two requests the same: the route, the checked fields and the uploaded bytes."""
    digest = hashlib.sha256(pipeline.encode())
    digest.update(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode())
    if upload is not None:
        digest.update(hashlib.sha256(upload).digest())
    return digest.hexdigest()


def earlier_job(api_key: ApiKey, key: str, digest: str) -> Job | None:
    job = Job.objects.filter(api_key=api_key, idempotency_key=key).first()
    if job is not None and job.request_digest != digest:
        raise KeyRefused(422, f"This {HEADER} was already used for a different request (job {job.id}).")
    return job


def once(api_key: ApiKey, key: str, digest: str, create: Callable[[], Job]) -> Job:
    """The job `key` already made for this request, else `create()`'s; without a key, always a new one."""
    if not key:
        return create()
    earlier = earlier_job(api_key, key, digest)
    if earlier is not None:
        return earlier
    try:
        return create()
    except IntegrityError:
        # A retry racing this one made the job first (the unique constraint): that one is the answer.
        earlier = earlier_job(api_key, key, digest)
        if earlier is None:
            raise
        return earlier
