from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.tasks import drive_job
from livepeer_ai.gateway.workflow import create_gif_job
from studio.forms import PromptForm


def _session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    recent = Job.objects.filter(session_key=_session_key(request))[:8]
    return render(request, "studio/index.html", {"form": PromptForm(), "recent": recent})


@require_POST
def create_job(request: HttpRequest) -> HttpResponse:
    form = PromptForm(request.POST)
    if not form.is_valid():
        recent = Job.objects.filter(session_key=_session_key(request))[:8]
        template = "studio/index.html#prompt-form" if request.htmx else "studio/index.html"
        return render(request, template, {"form": form, "recent": recent}, status=400)
    job = create_gif_job(
        form.cleaned_data["prompt"],
        owner=request.user if request.user.is_authenticated else None,
        session_key=_session_key(request),
        seed=form.cleaned_data["seed"],
        upscale=form.cleaned_data["upscale"],
        interpolate=form.cleaned_data["interpolate"],
    )
    drive_job.delay_on_commit(str(job.id))
    if request.htmx:
        return HttpResponseClientRedirect(job.get_absolute_url())
    return redirect(job.get_absolute_url())


@require_GET
def job_detail(request: HttpRequest, job_id: str) -> HttpResponse:
    job = get_object_or_404(Job, id=job_id)
    template = "studio/job.html#job-progress" if request.htmx else "studio/job.html"
    return render(request, template, {"job": job})


def _owned_job(request: HttpRequest, job_id: str) -> Job:
    """The job, if this visitor owns it (their account, or their session when anonymous)."""
    job = get_object_or_404(Job, id=job_id)
    if request.user.is_authenticated and job.owner_id == request.user.pk:
        return job
    if job.owner_id is None and job.session_key and job.session_key == request.session.session_key:
        return job
    raise Http404("No job of yours has that id.")


@require_POST
def cancel_job(request: HttpRequest, job_id: str) -> HttpResponse:
    job = _owned_job(request, job_id)
    job.cancel()
    if request.htmx:
        return render(request, "studio/job.html#job-progress", {"job": job})
    return redirect(job.get_absolute_url())
