"""Links to a job's stored files for API clients, who fetch them without a session: the path, signed.

The API's results (`images[].url`, `gif.url`) carry these links. The signature is the
key holder's proof that the gateway gave them this file; it covers the path and the
time it was made, and the media view takes it for MEDIA_LINK_MAX_AGE_S seconds.
Asking for the job again gives fresh links.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.core import signing

SALT = "livepeer_ai.gateway.media_links"


def signed_media_url(path: str) -> str:
    """The site-relative URL of the stored file at `path` (relative to MEDIA_ROOT), with its signature."""
    signature = signing.TimestampSigner(salt=SALT).sign(path).removeprefix(f"{path}:")
    return f"{settings.MEDIA_URL}{path}?{urlencode({'signature': signature})}"


def link_is_valid(path: str, signature: str) -> bool:
    try:
        signing.TimestampSigner(salt=SALT).unsign(f"{path}:{signature}", max_age=settings.MEDIA_LINK_MAX_AGE_S)
    except signing.BadSignature:  # a SignatureExpired too
        return False
    return True
