"""'Improve my prompt' refuses what it cannot do before any job exists, in plain words."""

from __future__ import annotations

import pytest

from livepeer_ai.gateway.models import Job
from livepeer_ai.registry.models import ModelEntry

pytestmark = pytest.mark.django_db

URL = "/prompt/improve/"


def test_visitors_are_sent_to_log_in(client):
    response = client.post(URL, {"prompt": "a fox"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.mark.parametrize(("prompt", "message"), [("   ", "the prompt is empty"), ("x" * 501, "under 500 characters")])
def test_an_empty_or_overlong_idea_is_refused(client, personas, approved_models, prompt, message):
    client.force_login(personas.member)
    response = client.post(URL, {"prompt": prompt})
    assert response.status_code == 400 and message in response.json()["detail"]["msg"]
    assert not Job.objects.exists()


def test_with_the_language_model_disabled_it_says_prompt_help_is_off(client, personas, approved_models):
    ModelEntry.objects.filter(pipeline="llm").update(status="disabled")
    client.force_login(personas.member)
    response = client.post(URL, {"prompt": "a fox"})
    assert response.status_code == 503 and response.json()["detail"]["msg"].startswith("Prompt help is off")
    assert not Job.objects.exists()


def test_the_create_form_offers_it(client, personas):
    client.force_login(personas.member)
    html = client.get("/").content.decode()
    assert 'id="improve-prompt"' in html and 'data-url="/prompt/improve/"' in html


def test_with_no_node_selling_the_language_model_it_says_so_at_once(client, personas, approved_models):
    from django.utils import timezone

    from livepeer_ai.gateway.models import EngineWorker, Orchestrator

    # A network the engine has seen, in which nobody sells llm.
    EngineWorker.objects.create(name="refresher", refreshed_at=timezone.now())
    Orchestrator.objects.create(
        service_uri="http://images-only", info={"capabilities": []}, info_fetched_at=timezone.now(), reachable=True
    )
    client.force_login(personas.member)
    response = client.post(URL, {"prompt": "a fox"})
    assert (
        response.status_code == 503 and "No orchestrator in the network offers llm" in response.json()["detail"]["msg"]
    )
    assert not Job.objects.exists()
