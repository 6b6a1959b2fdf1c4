"""Every error page a browser can get wears the site's layout and navigation, in plain words."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
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
