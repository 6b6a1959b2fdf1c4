from __future__ import annotations

from django.urls import path

from studio import views

urlpatterns = [
    path("", views.index, name="studio-index"),
    path("jobs/", views.create_job, name="studio-create-job"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="studio-job"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel_job, name="studio-cancel-job"),
]
