from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.urls import include, path

from studio import receipt_pages
from studio.ratelimits import guarded_form
from studio.views import accounts, api_keys, gallery, jobs, moderation, notifications, prompt_help, round_editing

# Django's own auth views, each form that takes a password or sends a mail behind its limit.
sign_in = guarded_form("accounts:login", "LOGIN_RATE", "username")

urlpatterns = [
    path("", jobs.index, name="studio-index"),
    path("jobs/", jobs.create_job, name="studio-create-job"),
    path("prompt/improve/", prompt_help.improve_prompt, name="studio-improve-prompt"),
    path("my-gifs/", jobs.my_gifs, name="studio-my-gifs"),
    path("jobs/<uuid:job_id>/", jobs.job_detail, name="studio-job"),
    path("jobs/<uuid:job_id>/cancel/", jobs.cancel_job, name="studio-cancel-job"),
    path("jobs/<uuid:job_id>/retry/", jobs.retry_job, name="studio-retry-job"),
    path("jobs/<uuid:job_id>/enter/", jobs.enter_job, name="studio-enter-job"),
    path("jobs/<uuid:job_id>/describe/", jobs.describe_gif, name="studio-describe-gif"),
    path("rounds/", gallery.rounds, name="studio-rounds"),
    path("rounds/new/", round_editing.new_round, name="studio-new-round"),
    path("rounds/<slug:slug>/", gallery.round_detail, name="studio-round"),
    path("rounds/<slug:slug>/edit/", round_editing.edit_round, name="studio-edit-round"),
    path("entries/<int:pk>/", gallery.entry_detail, name="studio-entry"),
    path("entries/<int:pk>/vote/", gallery.vote, name="studio-vote"),
    path("entries/<int:pk>/vote/take-back/", gallery.take_back_vote, name="studio-take-back-vote"),
    path("entries/<int:pk>/report/", gallery.report, name="studio-report"),
    path("notifications/", notifications.notification_list, name="studio-notifications"),
    path("moderation/", moderation.moderation, name="studio-moderation"),
    path("moderation/entries/<int:pk>/<str:action>/", moderation.moderate_entry, name="studio-moderate-entry"),
    path("moderation/reports/<int:pk>/dismiss/", moderation.dismiss_report, name="studio-dismiss-report"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/api-keys/", api_keys.api_keys, name="api-keys"),
    path("accounts/login/", sign_in(auth_views.LoginView.as_view()), name="login"),
    path(
        "accounts/password_change/",
        guarded_form("accounts:password-change", "LOGIN_RATE", "")(auth_views.PasswordChangeView.as_view()),
        name="password_change",
    ),
    path(
        "accounts/password_reset/",
        guarded_form("accounts:password-reset", "PASSWORD_RESET_RATE", "email")(auth_views.PasswordResetView.as_view()),
        name="password_reset",
    ),
    path("accounts/", include("django.contrib.auth.urls")),
    # The receipts the gateway stored, shown to whoever may see the output they are for (studio/media.py).
    path("receipts/<uuid:receipt_id>/", receipt_pages.receipt_detail, name="receipt-detail"),
    path("receipts/<uuid:receipt_id>/receipt.json", receipt_pages.receipt_json, name="receipt-json"),
]
