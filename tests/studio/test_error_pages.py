"""Every error page a browser can get wears the site's layout and navigation, in plain words."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from django.views import defaults


@pytest.mark.django_db
def test_a_missing_page_is_a_404_in_the_sites_layout(client):
    response = client.get("/no-such-page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert 'class="site-header"' in html and 'id="nav-rounds"' in html
    assert 'data-status="404"' in html and "Page not found" in html


@pytest.mark.parametrize(
    ("handler", "status", "words"),
    [
        (lambda r: defaults.bad_request(r, Exception()), 400, "could not be understood"),
        (lambda r: defaults.permission_denied(r, Exception()), 403, "don't have permission"),
        (defaults.server_error, 500, "Something went wrong on our side"),
    ],
    ids=["400", "403", "500"],
)
@pytest.mark.django_db
def test_each_error_handler_renders_the_sites_page(handler, status, words):
    response = handler(RequestFactory().get("/somewhere/"))
    html = response.content.decode()
    assert response.status_code == status
    assert 'class="site-header"' in html and f'data-status="{status}"' in html
    assert words in html


@pytest.mark.django_db
def test_every_page_has_a_skip_link_and_groups_the_networks_pages_under_one_menu(client):
    html = client.get("/").content.decode()
    assert html.index('class="skip-link" href="#main"') < html.index('class="site-header"')
    menu = html.split('id="nav-infrastructure"', 1)[1].split("</details>", 1)[0]
    for link in ("nav-network", "nav-models", "nav-dashboard", "nav-api-docs"):
        assert f'id="{link}"' in menu
    assert 'id="nav-create"' not in menu and 'id="nav-rounds"' not in menu


@pytest.mark.django_db
def test_the_configured_500_handler_needs_neither_the_request_nor_the_database(django_assert_num_queries):
    from django.urls import get_resolver

    def fails() -> None:
        raise AssertionError("the 500 page read the member or the session")

    # As a request might be when the error came from the session store or the database.
    request = RequestFactory().get("/somewhere/")
    request.user = SimpleLazyObject(fails)
    request.session = SimpleLazyObject(fails)
    handler = get_resolver().resolve_error_handler(500)
    with django_assert_num_queries(0):
        response = handler(request)
    html = response.content.decode()
    assert response.status_code == 500
    assert 'class="site-header"' in html and 'id="nav-rounds"' in html and 'data-status="500"' in html


@pytest.mark.django_db
def test_a_rate_limited_page_is_a_429_in_the_sites_layout(client, personas, settings):
    settings.STUDIO_VOTE_RATE = "1/m"
    client.force_login(personas.member)
    client.post("/entries/424242/vote/")
    response = client.post("/entries/424242/vote/")
    html = response.content.decode()
    assert response.status_code == 429 and response["Retry-After"]
    assert 'class="site-header"' in html and 'id="nav-logout"' in html
    assert 'data-status="429"' in html and "Slow down a little" in html


@pytest.mark.django_db
def test_a_refusal_for_a_stage_out_of_service_is_a_503_in_the_sites_layout(client, personas):
    from django.conf import settings

    from livepeer_ai.gateway.models import JobStatus
    from livepeer_ai.registry import curation
    from livepeer_ai.registry.models import ModelEntry
    from tests.studio.factories import make_generation

    failed = make_generation(personas.member, status=JobStatus.FAILED)
    video = ModelEntry.objects.get(pipeline="image-to-video", model_id=settings.DEFAULT_MODELS["image-to-video"])
    curation.disable(video, personas.admin, note="licence withdrawn")
    client.force_login(personas.member)
    response = client.post(f"/jobs/{failed.job_id}/retry/")
    html = response.content.decode()
    assert response.status_code == 503
    assert 'class="site-header"' in html and 'data-status="503"' in html and "Not available right now" in html
    assert "disabled by the network&#x27;s curators" in html


@pytest.mark.django_db
def test_a_form_refused_by_csrf_protection_is_the_sites_403_for_the_member_signed_in(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.member)
    response = client.post("/jobs/", {"prompt": "a robot"})
    html = response.content.decode()
    assert response.status_code == 403
    assert 'data-status="403"' in html and "That form was not sent" in html
    assert 'id="nav-logout"' in html  # the nav knows who is signed in
    fragment = client.post("/jobs/", {"prompt": "a robot"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 403 and fragment["HX-Reswap"] == "beforebegin"
    assert fragment.content.decode().lstrip().startswith('<p class="error notice" role="alert" data-refused>')


@pytest.mark.django_db
def test_api_errors_stay_json(client):
    response = client.get("/api/v1/no-such-route")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]["msg"]
