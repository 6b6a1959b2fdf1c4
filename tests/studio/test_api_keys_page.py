"""The API key owner's page (usage and spend by day and pipeline, the daily limit), and the limit set in the admin."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from livepeer_ai.gateway.models import ApiKey, AttemptOutcome, Job, JobStatus, Orchestrator, StageAttempt
from tests.studio.conftest import text_of

pytestmark = pytest.mark.django_db
PRICE = 10**12


def paid_job(key: ApiKey, created: datetime, units: int) -> Job:
    node = Orchestrator.objects.get_or_create(
        service_uri="http://a",
        defaults={
            "info": {
                "capabilities": [
                    {"pipeline": "text-to-image", "model_id": "m", "price_per_unit": PRICE, "pixels_per_unit": 1}
                ]
            }
        },
    )[0]
    job = Job.objects.create(
        prompt="x", api_key=key, stages=["text-to-image"], status=JobStatus.SUCCEEDED, usd_per_eth_e8=2000 * 10**8
    )
    Job.objects.filter(id=job.id).update(created_at=created)
    StageAttempt.objects.create(
        job=job,
        stage="text-to-image",
        orchestrator=node,
        pipeline="text-to-image",
        model_id="m",
        units=units,
        outcome=AttemptOutcome.SUCCEEDED,
        fee_wei=units * PRICE,  # booked as the engine books a paid stage
    )
    return job


def test_the_owner_sees_each_keys_usage_by_day_and_its_limit_and_nobody_elses(client, personas, other_member):
    mine = ApiKey.issue("render farm", owner=personas.member)[0]
    ApiKey.objects.filter(pk=mine.pk).update(daily_spend_limit_wei=5 * 10**16)
    theirs = ApiKey.issue("their key", owner=other_member)[0]
    paid_job(mine, datetime(2026, 11, 3, 12, tzinfo=UTC), 4096)
    paid_job(theirs, datetime(2026, 11, 3, 12, tzinfo=UTC), 999)
    client.force_login(personas.member)

    page = text_of(client.get("/accounts/api-keys/", {"start": "2026-11-01", "end": "2026-11-30"}))

    assert "render farm" in page and mine.prefix in page
    assert "{#" not in page  # no template comment leaks onto the page
    assert "their key" not in page and theirs.prefix not in page
    assert "2026-11-03" in page and "4096" in page
    assert "0.004096 ETH" in page  # the fees, through the one formatter
    assert "$8.19" in page  # at the $2000 the job recorded, as the one formatter writes dollars
    assert "0.05 ETH" in page  # the daily limit
    assert mine.webhook_secret in page and theirs.webhook_secret not in page
    assert 'href="/accounts/api-keys/"' in client.get("/").content.decode()  # in the nav


def test_visitors_are_sent_to_log_in_and_a_bad_period_is_a_400(client, personas):
    response = client.get("/accounts/api-keys/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(personas.member)
    bad = client.get("/accounts/api-keys/", {"start": "November"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in text_of(bad)
    assert client.get("/accounts/api-keys/", {"start": "2026-11-05", "end": "2026-11-01"}).status_code == 400


def test_an_admin_sets_a_keys_daily_limit_in_wei_and_text_is_refused(client, personas):
    key = ApiKey.issue("partner", owner=personas.member)[0]
    client.force_login(personas.admin)
    url = f"/admin/gateway/apikey/{key.pk}/change/"
    form = {"name": "partner", "owner": personas.member.pk}
    wrong = client.post(url, {**form, "daily_spend_limit_wei": "lots"})
    assert wrong.status_code == 200 and "Enter a whole number" in text_of(wrong)
    assert ApiKey.objects.get(pk=key.pk).daily_spend_limit_wei is None
    # Above 2**63: wei are kept exactly.
    assert client.post(url, {**form, "daily_spend_limit_wei": str(10**20)}).status_code == 302
    assert ApiKey.objects.get(pk=key.pk).daily_spend_limit_wei == 10**20
    assert client.post(url, {**form, "daily_spend_limit_wei": ""}).status_code == 302
    assert ApiKey.objects.get(pk=key.pk).daily_spend_limit_wei is None
