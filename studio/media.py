"""Stored files (MEDIA_ROOT): who may fetch one, and how it is handed over.

Every stored file belongs to a job: it lives under jobs/<job id>/, and its receipt,
if any, names the same file. The job says who may see it: its maker and staff always;
an API job's key holder through the signed links its results carry
(gateway/media_links.py); anyone else only what the studio shows everyone (a public
entry, or a GIF never entered that the safety checker passed: studio/results.py).
Anyone else learns nothing, not even that the file exists: 404.

The file leaves through the front server when MEDIA_HANDOVER names one (nginx's
X-Accel-Redirect to an internal location, or X-Sendfile), else Django streams it.
"""

from __future__ import annotations

import mimetypes
import posixpath
import re
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils._os import safe_join
from django.utils.cache import patch_cache_control
from django.views.decorators.http import require_safe

from livepeer_ai.gateway.media_links import link_is_valid
from livepeer_ai.gateway.models import Job
from studio.results import public_media, sees_everything

JOB_FILE = re.compile(r"jobs/(?P<job_id>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.+")


def job_of(path: str) -> Job | None:
    """The job that owns the file at `path`, or None. A path that walks out of its job's
    folder (`..`, `//`) names another job's file, so it names none."""
    match = JOB_FILE.fullmatch(path)
    if match is None or posixpath.normpath(path) != path:
        return None
    return Job.objects.filter(id=match["job_id"]).select_related("entry").first()


def may_see_files_of(job: Job, request: HttpRequest) -> bool:
    return sees_everything(job, request.user) or public_media(job)


def handover(path: str) -> HttpResponseBase:
    """The file at `path` (relative to MEDIA_ROOT, already allowed) as the answer."""
    full = Path(safe_join(settings.MEDIA_ROOT, path))
    if not full.is_file():
        raise Http404("No such file.")
    content_type = mimetypes.guess_type(full.name)[0] or "application/octet-stream"
    response: HttpResponseBase
    if settings.MEDIA_HANDOVER == "nginx":
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = f"{settings.MEDIA_ACCEL_PREFIX.rstrip('/')}/{quote(path)}"
    elif settings.MEDIA_HANDOVER == "sendfile":
        response = HttpResponse(content_type=content_type)
        response["X-Sendfile"] = str(full)
    else:
        response = FileResponse(full.open("rb"), content_type=content_type)
    # Who may see a file changes (a moderator hides an entry): no shared cache keeps a copy.
    patch_cache_control(response, private=True)
    return response


@require_safe
def media(request: HttpRequest, path: str) -> HttpResponseBase:
    job = job_of(path)
    signature = request.GET.get("signature", "")
    if job is None or not ((signature and link_is_valid(path, signature)) or may_see_files_of(job, request)):
        raise Http404("No such file.")
    return handover(path)
