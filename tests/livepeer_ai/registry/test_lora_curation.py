"""LoRAs are curated like models: proposed pending, approved or disabled by admins only, every change in
their audit trail; the curation pages and the Django admin list them, to the same people."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from livepeer_ai.registry import curation, loras
from livepeer_ai.registry.models import AuditAction, EntryStatus, LoraEntry

pytestmark = pytest.mark.django_db

LIST = "/dashboard/models/loras/"
PROPOSE = "/dashboard/models/loras/propose/"
PIXEL = {
    "name": "nerijs/pixel-art-xl",
    "base": "sdxl",
    "local_path": "/srv/loras/pixel-art-xl.safetensors",
    "description": "Pixel art; trigger: pixel art",
    "licence": "creativeml-openrail-m",
}


@pytest.fixture
def approved_lora(db: Any) -> LoraEntry:
    return loras.register_lora(PIXEL, status=EntryStatus.APPROVED, note="seeded")


@pytest.fixture
def pending_lora(personas: Any) -> LoraEntry:
    fields = {**PIXEL, "name": "someone/ink-wash", "base": "sd15", "local_path": "/srv/loras/ink.safetensors"}
    return loras.propose_lora(personas.operator, fields, note="a style for the studio")


def test_a_proposal_is_pending_with_its_proposer_and_its_trail(personas, pending_lora):
    assert (pending_lora.status, pending_lora.proposed_by) == (EntryStatus.PENDING, personas.operator)
    record = pending_lora.audit.get()
    assert (record.action, record.actor, record.note) == (
        AuditAction.PROPOSED,
        personas.operator,
        "a style for the studio",
    )
    assert record.changes["name"] == [None, "someone/ink-wash"] and record.changes["status"] == [None, "pending"]


def test_members_may_not_propose_and_only_admins_register_or_change_status(personas, pending_lora):
    with pytest.raises(curation.CurationForbidden):
        loras.propose_lora(personas.member, {**PIXEL, "name": "m/x"})
    with pytest.raises(curation.CurationForbidden):
        loras.register_lora({**PIXEL, "name": "o/x"}, actor=personas.operator)
    with pytest.raises(curation.CurationForbidden):
        curation.approve(pending_lora, personas.operator)
    assert LoraEntry.objects.get(pk=pending_lora.pk).status == EntryStatus.PENDING


def test_status_moves_along_the_same_transitions_as_models(personas, pending_lora):
    curation.approve(pending_lora, personas.admin, "looks fine")
    curation.disable(pending_lora, personas.admin, "abuse")
    with pytest.raises(curation.CurationError, match="cannot be moved to disabled"):
        curation.disable(pending_lora, personas.admin)
    curation.approve(pending_lora, personas.admin)
    moves = [r.changes["status"] for r in pending_lora.audit.filter(action=AuditAction.STATUS).order_by("at", "id")]
    assert moves == [["pending", "approved"], ["approved", "disabled"], ["disabled", "approved"]]


def test_edits_record_old_and_new_and_the_name_is_fixed(personas, approved_lora):
    changes = curation.edit(approved_lora, personas.admin, {"description": "Pixel art, 8-bit"}, note="clearer")
    assert changes == {"description": ["Pixel art; trigger: pixel art", "Pixel art, 8-bit"]}
    assert approved_lora.audit.filter(action=AuditAction.EDITED).get().changes == changes
    with pytest.raises(curation.CurationError, match="cannot be changed here: name"):
        curation.edit(approved_lora, personas.admin, {"name": "other/name"})


def test_a_name_is_registered_once(approved_lora):
    with pytest.raises(curation.CurationError, match="LoRA 'nerijs/pixel-art-xl' is already in the registry"):
        loras.register_lora(PIXEL)


def test_a_lora_applies_to_every_model_family_built_on_its_base(approved_lora):
    assert approved_lora.applies_to("sdxl") and approved_lora.applies_to("sdxl-turbo")
    assert not approved_lora.applies_to("sd15") and not approved_lora.applies_to("svd")
    assert loras.approved_lora_paths("sdxl-turbo") == {"nerijs/pixel-art-xl": "/srv/loras/pixel-art-xl.safetensors"}


# -- the pages --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "sees_pending"),
    [("anonymous", False), ("member", False), ("other_operator", False), ("operator", True), ("admin", True)],
)
def test_the_list_shows_approved_loras_to_all_and_pending_ones_to_admins_and_the_proposer(
    client, personas, approved_lora, pending_lora, who, sees_pending
):
    if who != "anonymous":
        client.force_login(getattr(personas, who))
    html = client.get(LIST).content.decode()
    assert f'data-entry-id="{approved_lora.pk}"' in html and "Pixel art; trigger: pixel art" in html
    assert (f'data-entry-id="{pending_lora.pk}"' in html) is sees_pending
    detail = client.get(reverse("registry:lora-detail", args=[pending_lora.pk]))
    assert detail.status_code == (200 if sees_pending else 404)


def test_the_models_page_links_to_the_loras(client):
    assert f'href="{LIST}"' in client.get("/dashboard/models/").content.decode()


def test_filters_narrow_the_list_and_htmx_gets_only_the_table(client, personas, approved_lora, pending_lora):
    client.force_login(personas.admin)
    html = client.get(LIST, {"base": "sd15"}, HTTP_HX_REQUEST="true").content.decode()
    assert html.lstrip().startswith('<div id="lora-table">')
    assert f'data-entry-id="{pending_lora.pk}"' in html and f'data-entry-id="{approved_lora.pk}"' not in html
    assert client.get(LIST, {"base": "flux"}).status_code == 400


def test_an_admin_approves_a_lora_and_only_admins_may(client, personas, pending_lora):
    url = reverse("registry:lora-status", args=[pending_lora.pk])
    client.force_login(personas.operator)
    assert client.post(url, {"to": "approved"}).status_code == 403
    client.force_login(personas.admin)
    page = client.get(pending_lora.get_absolute_url()).content.decode()
    assert f'hx-post="{url}"' in page and "Requests naming it are refused" in page
    response = client.post(url, {"to": "approved", "note": "ok"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<section class="card registry" id="curation">')
    assert 'data-status="approved"' in html and "Requests may name this LoRA" in html
    assert LoraEntry.objects.get(pk=pending_lora.pk).status == EntryStatus.APPROVED


def test_an_operator_proposes_a_lora_through_the_form(client, personas):
    client.force_login(personas.operator)
    form = client.get(PROPOSE).content.decode()
    assert "Propose a LoRA" in form and f'action="{PROPOSE}"' in form
    response = client.post(PROPOSE, {**PIXEL, "nsfw_level": "safe", "note": "popular"})
    entry = LoraEntry.objects.get(name=PIXEL["name"])
    assert response.status_code == 302 and response["Location"] == entry.get_absolute_url()
    assert (entry.status, entry.proposed_by) == (EntryStatus.PENDING, personas.operator)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"local_path": "/srv/loras/pixel.ckpt"}, "A LoRA is a .safetensors file"),
        ({"base": "flux"}, "Select a valid choice"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_a_bad_lora_proposal_is_a_400_with_the_reason(client, personas, change, message):
    client.force_login(personas.operator)
    response = client.post(PROPOSE, {**PIXEL, "nsfw_level": "safe", **change})
    assert response.status_code == 400 and message in response.content.decode()
    assert not LoraEntry.objects.exists()


def test_members_are_told_they_may_not_propose(client, personas):
    client.force_login(personas.member)
    response = client.get(PROPOSE)
    assert response.status_code == 403 and "may propose LoRAs" in response.content.decode()


def test_the_django_admin_lists_loras_and_approves_them_through_curation(client, personas, pending_lora):
    client.force_login(personas.admin)
    changelist = "/admin/registry/loraentry/"
    assert "someone/ink-wash" in client.get(changelist).content.decode()
    client.post(changelist, {"action": "approve_selected", "_selected_action": [str(pending_lora.pk)]})
    record = pending_lora.audit.filter(action=AuditAction.STATUS).get()
    assert (record.changes, record.actor, record.note) == (
        {"status": ["pending", "approved"]},
        personas.admin,
        "Django admin action",
    )
    assert client.post(f"{changelist}{pending_lora.pk}/delete/").status_code == 403
