"""The curation pages, for each persona: list, entry with its trail, proposal form, approve/disable."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from livepeer_ai.registry import curation
from livepeer_ai.registry.models import AuditAction, EntryStatus, ModelEntry
from tests.forms_a11y import assert_descriptions_exist, assert_error_linked, controls_of
from tests.livepeer_ai.registry.conftest import entry_fields

pytestmark = pytest.mark.django_db

LIST = "/dashboard/models/"
PROPOSE = "/dashboard/models/propose/"

PROPOSAL = {
    "pipeline": "image-to-video",
    "model_id": "stabilityai/stable-video-diffusion-img2vid-xt-1-1",
    "family": "svd",
    "pinned_revision": "9cf2b6b",
    "licence": "svd-community",
    "nsfw_level": "safe",
    "max_side": "1024",
    "memory_mb": "16000",
    "default_parameters": '{"num_inference_steps": 25}',
    "runner_version": "0.1.0",
    "note": "SVD-XT 1.1, limited commercial licence",
}


def login(client, user):
    if user is not None:
        client.force_login(user)
    return client


def user_of(personas, who):
    return None if who == "anonymous" else getattr(personas, who)


def status_url(entry):
    return reverse("registry:model-status", args=[entry.pk])


# -- the list -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees_pending"),
    [("anonymous", False), ("member", False), ("other_operator", False), ("operator", True), ("admin", True)],
)
def test_the_list_is_public_for_approved_models_and_shows_pending_ones_to_staff_and_the_proposer(
    client, personas, approved_entry, pending_entry, who, sees_pending
):
    html = login(client, user_of(personas, who)).get(LIST).content.decode()
    assert f'data-entry-id="{approved_entry.pk}"' in html
    assert (f'data-entry-id="{pending_entry.pk}"' in html) is sees_pending


@pytest.mark.parametrize(
    ("who", "shown"), [("anonymous", False), ("member", False), ("operator", True), ("admin", True)]
)
def test_the_propose_link_is_offered_to_operators_and_admins_only(client, personas, who, shown):
    html = login(client, user_of(personas, who)).get(LIST).content.decode()
    assert ('id="propose-model"' in html) is shown


def test_filters_narrow_the_list_and_htmx_gets_only_the_table(client, personas, approved_entry, pending_entry):
    admin_client = login(client, personas.admin)
    curation.register(entry_fields(pipeline="upscale", model_id="up/x4"), status=EntryStatus.APPROVED)
    html = admin_client.get(LIST, {"status": "pending"}).content.decode()
    assert f'data-entry-id="{pending_entry.pk}"' in html and f'data-entry-id="{approved_entry.pk}"' not in html
    html = admin_client.get(LIST, {"pipeline": "upscale"}).content.decode()
    assert "up/x4" in html and "stabilityai/sdxl-turbo" not in html
    partial = admin_client.get(LIST, {"status": "approved"}, HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="model-table">')
    assert "<html" not in partial and "up/x4" in partial and "someone/new-model" not in partial


def test_an_unknown_filter_value_is_a_400_with_the_reason(client, approved_entry):
    response = client.get(LIST, {"status": "retired"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert f'data-entry-id="{approved_entry.pk}"' not in response.content.decode()


def test_the_list_renders_with_a_bounded_number_of_queries_and_pages(client, personas, django_assert_max_num_queries):
    admin_client = login(client, personas.admin)
    ModelEntry.objects.bulk_create(
        ModelEntry(
            pipeline="text-to-image", model_id=f"bulk/model-{i:03d}", family="sd15", proposed_by=personas.operator
        )
        for i in range(120)
    )
    with django_assert_max_num_queries(6):
        first = admin_client.get(LIST).content.decode()
    assert first.count("data-entry-id=") == 50 and "Page 1 of 3" in first
    with django_assert_max_num_queries(6):
        last = admin_client.get(LIST, {"page": 3, "pipeline": "text-to-image"}).content.decode()
    assert last.count("data-entry-id=") == 20


# -- an entry -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 404), ("member", 404), ("other_operator", 404), ("operator", 200), ("admin", 200)],
)
def test_a_pending_entry_is_seen_only_by_its_proposer_and_admins(client, personas, pending_entry, who, status):
    response = login(client, user_of(personas, who)).get(pending_entry.get_absolute_url())
    assert response.status_code == status


def test_an_approved_entry_shows_its_fields_and_audit_trail_to_anyone(client, personas, approved_entry):
    curation.edit(approved_entry, personas.admin, {"licence": "openrail++"}, note="licence clarified")
    html = client.get(approved_entry.get_absolute_url()).content.decode()
    assert "stabilityai/sdxl-turbo" in html and "8000 MiB" in html
    assert 'data-action="edited"' in html and "sai-nc-community → openrail++" in html
    assert "licence clarified" in html and "admin" in html
    assert 'id="status-form"' not in html


@pytest.mark.parametrize(("who", "buttons"), [("operator", False), ("admin", True)])
def test_approve_and_disable_buttons_are_for_admins(client, personas, pending_entry, who, buttons):
    html = login(client, getattr(personas, who)).get(pending_entry.get_absolute_url()).content.decode()
    assert ('id="status-approved"' in html) is buttons
    assert ('id="status-disabled"' in html) is buttons


def test_the_entry_page_renders_with_a_bounded_number_of_queries(
    client, personas, approved_entry, django_assert_max_num_queries
):
    admin_client = login(client, personas.admin)
    for i in range(30):
        curation.edit(approved_entry, personas.admin, {"max_side": 512 + i})
    with django_assert_max_num_queries(5):
        html = admin_client.get(approved_entry.get_absolute_url()).content.decode()
    assert html.count('data-action="edited"') == 30


# -- proposing ----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_the_operator_sign_in_to_propose(client):
    for response in (client.get(PROPOSE), client.post(PROPOSE, PROPOSAL)):
        assert response.status_code == 302
        assert response["Location"] == f"/dashboard/login/?next={PROPOSE}"
    assert not ModelEntry.objects.exists()


def test_members_may_not_propose_and_are_told_why(client, personas):
    client.force_login(personas.member)
    for response in (client.get(PROPOSE), client.post(PROPOSE, PROPOSAL)):
        assert response.status_code == 403
        assert "Only orchestrator operators" in response.content.decode()
    assert not ModelEntry.objects.exists()


@pytest.mark.parametrize("who", ["operator", "other_operator", "admin"])
def test_operators_and_admins_propose_a_pending_model(client, personas, who):
    client.force_login(getattr(personas, who))
    assert client.get(PROPOSE).status_code == 200
    response = client.post(PROPOSE, PROPOSAL)
    entry = ModelEntry.objects.get()
    assert response.status_code == 302 and response["Location"] == entry.get_absolute_url()
    assert (entry.status, entry.proposed_by) == (EntryStatus.PENDING, getattr(personas, who))
    assert (entry.memory_mb, entry.default_parameters, entry.pinned_revision) == (
        16000,
        {"num_inference_steps": 25},
        "9cf2b6b",
    )
    record = entry.audit.get()
    assert (record.action, record.note) == (AuditAction.PROPOSED, "SVD-XT 1.1, limited commercial licence")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"model_id": ""}, "model_id", "This field is required"),
        ({"pipeline": "live-video-to-video"}, "pipeline", "Select a valid choice"),
        ({"default_parameters": "[1, 2]"}, "default_parameters", "must be a JSON object"),
        ({"default_parameters": "{oops"}, "default_parameters", "Enter a valid JSON"),
        ({"memory_mb": "-5"}, "memory_mb", "greater than or equal to 0"),
    ],
)
def test_a_bad_proposal_is_a_400_with_the_reason_and_nothing_is_stored(client, personas, change, field, message):
    client.force_login(personas.operator)
    response = client.post(PROPOSE, {**PROPOSAL, **change})
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not ModelEntry.objects.exists()


def test_proposing_a_model_already_in_the_registry_says_so(client, personas, approved_entry):
    client.force_login(personas.operator)
    response = client.post(PROPOSE, {**PROPOSAL, "pipeline": "text-to-image", "model_id": "stabilityai/sdxl-turbo"})
    assert response.status_code == 400
    assert "is already in the registry (approved)" in response.content.decode()
    assert ModelEntry.objects.count() == 1


# -- approving and disabling ----------------------------------------------------------


def test_anonymous_visitors_cannot_change_a_status(client, pending_entry):
    response = client.post(status_url(pending_entry), {"to": "approved"})
    assert response.status_code == 302 and response["Location"].startswith(resolve_url(settings.LOGIN_URL))
    assert ModelEntry.objects.get(pk=pending_entry.pk).status == EntryStatus.PENDING


@pytest.mark.parametrize("who", ["member", "operator", "other_operator"])
def test_only_admins_approve_even_the_proposer_cannot(client, personas, pending_entry, who):
    client.force_login(getattr(personas, who))
    response = client.post(status_url(pending_entry), {"to": "approved"})
    assert response.status_code == 403
    assert "Only admins may approve or disable models." in response.content.decode()
    assert ModelEntry.objects.get(pk=pending_entry.pk).status == EntryStatus.PENDING
    assert pending_entry.audit.count() == 1


def test_an_admin_approves_then_disables_with_a_note(client, personas, pending_entry):
    client.force_login(personas.admin)
    response = client.post(status_url(pending_entry), {"to": "approved", "note": "looks good"})
    assert response.status_code == 302 and response["Location"] == pending_entry.get_absolute_url()
    assert ModelEntry.objects.get(pk=pending_entry.pk).status == EntryStatus.APPROVED
    partial = client.post(status_url(pending_entry), {"to": "disabled", "note": "abuse"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200 and html.lstrip().startswith('<section class="card registry" id="curation">')
    assert 'data-status="disabled"' in html and "abuse" in html and 'id="status-approved"' in html
    notes = list(
        pending_entry.audit.filter(action=AuditAction.STATUS).order_by("at", "id").values_list("note", flat=True)
    )
    assert notes == ["looks good", "abuse"]


def test_a_transition_that_does_not_exist_is_a_400_with_the_reason(client, personas, approved_entry):
    client.force_login(personas.admin)
    response = client.post(status_url(approved_entry), {"to": "approved"})
    assert response.status_code == 400
    assert "it cannot be moved to approved" in response.content.decode()
    bad = client.post(status_url(approved_entry), {"to": "deleted"})
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()
    assert approved_entry.audit.count() == 1


def test_changing_the_status_of_a_missing_entry_is_404(client, personas):
    client.force_login(personas.admin)
    assert client.post("/dashboard/models/999999/status/", {"to": "approved"}).status_code == 404


def test_status_changes_are_post_only(client, personas, pending_entry):
    client.force_login(personas.admin)
    assert client.get(status_url(pending_entry)).status_code == 405


def test_propose_inputs_point_at_their_help_and_errors(client, personas):
    client.force_login(personas.operator)
    page = controls_of(client.get(PROPOSE))
    assert_descriptions_exist(page)
    assert "id_model_id_helptext" in page.controls["model_id"]["aria-describedby"].split()
    page = controls_of(client.post(PROPOSE, {**PROPOSAL, "model_id": "", "memory_mb": "-5"}))
    assert_descriptions_exist(page)
    for name in ("model_id", "memory_mb"):
        assert_error_linked(page, name)
