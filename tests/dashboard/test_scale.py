"""Every dashboard page renders with a fixed number of queries, however much data there is.

Seeded here at a small scale (the benchmark runs 10,000 jobs and 100,000 tickets);
each page is rendered, its queries counted against a bound, and then rendered
again after a second, larger seed: the count must not move.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bench.dashboard_seeding import seed
from dashboard import live

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume asynchronous iterators"),
]

# (page, query bound). Session and user lookups are part of the count.
# A page with the site's nav counts one query for the signed-in member's unread notifications.
PAGES = [
    ("/dashboard/nodes/{address}/", 13),
    ("/dashboard/nodes/{address}/?period=24h", 13),
    ("/dashboard/nodes/{address}/?period=30d", 13),
    ("/dashboard/nodes/{address}/tickets/", 6),
    ("/dashboard/nodes/{address}/tickets/?status=redeemed&page=2", 6),
    ("/dashboard/nodes/{address}/tickets.csv", 5),
    ("/dashboard/", 6),
    ("/network/", 8),
    ("/network/costs/", 4),
]


def render(client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
        if response.streaming:
            b"".join(response)
    return response.status_code, len(queries.captured_queries)


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seeded once for the module and committed; each test's own writes roll back, and this goes at the end."""
    from django.contrib.auth import get_user_model

    from dashboard.models import NodeSnapshot, Operator
    from livepeer_ai.gateway.models import Job, Orchestrator, StageAttempt
    from livepeer_ai.payments.models import EarningsHour, ReceivedTicket

    with django_db_blocker.unblock():
        report = seed(jobs=200, tickets=2000, nodes=2, rng_seed=1)
    yield report
    with django_db_blocker.unblock():
        users = list(Operator.objects.filter(address__in=report.nodes).values_list("user_id", flat=True))
        for model in (EarningsHour, ReceivedTicket, StageAttempt, Job, NodeSnapshot, Orchestrator, Operator):
            model.objects.all().delete()
        get_user_model().objects.filter(id__in=users).delete()


@pytest.mark.parametrize(("page", "bound"), PAGES)
def test_each_page_renders_in_a_bounded_number_of_queries(
    client, personas, seeded, page, bound, django_assert_max_num_queries
):
    client.force_login(personas.operator if "/nodes/" in page else personas.admin)
    url = page.format(address=personas.operator_address)
    assert seeded.nodes[0] == personas.operator_address
    with django_assert_max_num_queries(bound):
        response = client.get(url)
        if response.streaming:
            b"".join(response)
    assert response.status_code == 200


def test_the_query_count_does_not_grow_with_the_data(client, personas, seeded):
    def counts() -> dict[str, tuple[int, int]]:
        found = {}
        for page, _bound in PAGES:
            client.force_login(personas.operator if "/nodes/" in page else personas.admin)
            found[page] = render(client, page.format(address=personas.operator_address))
        return found

    before = counts()
    # Three times the data (one larger seed for every page: it is the slow part).
    seed(jobs=400, tickets=4000, nodes=2, rng_seed=2)
    assert counts() == before
    for page, bound in PAGES:
        status, queries = before[page]
        assert status == 200 and 0 < queries <= bound, (page, status, queries)


def test_live_fragments_cost_a_fixed_number_of_queries(personas, seeded, django_assert_max_num_queries):
    with django_assert_max_num_queries(1):
        assert 'id="capacity"' in live.capacity_fragment(personas.operator_address)
    with django_assert_max_num_queries(4):
        html = live.network_fragments()
    assert personas.operator_address in html and 'id="redemptions"' in html


def test_the_seed_spreads_jobs_and_tickets_over_the_nodes(seeded):
    from livepeer_ai.gateway.models import Job, StageAttempt
    from livepeer_ai.payments.models import EarningsHour, ReceivedTicket

    assert Job.objects.count() == 200 and ReceivedTicket.objects.count() == 2000
    assert StageAttempt.objects.count() == seeded.attempts > 400
    for address in seeded.nodes:
        tickets = ReceivedTicket.objects.filter(recipient=address)
        assert tickets.count() == 1000
        rollup = EarningsHour.objects.filter(recipient=address)
        assert sum(row.tickets for row in rollup) == 1000
        assert sum(int(row.expected_value) for row in rollup) == sum(int(t.expected_value) for t in tickets)
    assert sum(seeded.winners.values()) > 0
