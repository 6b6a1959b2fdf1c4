"""Usage and spend per API key (GET /api/v1/usage), and the daily spend limit (402 with the numbers).

Nodes are rows with a stored /info and its prices (what the engine's refresh writes); jobs and their
attempts are rows as the engine leaves them, so fees are computed from what the gateway recorded.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema_rs
import pytest
from django.db import connection
from django.utils import timezone

from livepeer_ai.gateway import api, usage, workflow
from livepeer_ai.gateway.models import ApiKey, AttemptOutcome, Job, JobStatus, Orchestrator, StageAttempt
from livepeer_ai.payments import eth_usd
from livepeer_ai.protocol.units import fee_wei

T2I = ("text-to-image", "livepeer-ai/tiny-sdxl-turbo")
SMALL = {"prompt": "spend", "width": 64, "height": 64, "num_inference_steps": 1, "seed": 1}
PRICE = 10**12  # wei per pixel: 4096 pixels cost 0.004096 ETH
SMALL_FEE = 64 * 64 * PRICE

pytestmark = pytest.mark.django_db


def node(uri: str, price: int) -> Orchestrator:
    offers = [
        {"pipeline": p, "model_id": m, "capacity": 1, "price_per_unit": price, "pixels_per_unit": 1}
        for p, m in (T2I, ("upscale", "livepeer-ai/tiny-sd-x4-upscaler"))
    ]
    return Orchestrator.objects.create(
        service_uri=uri, address="0x" + uri[-1] * 40, info={"capabilities": offers}, info_fetched_at=timezone.now()
    )


def job_with(
    key: ApiKey, created: datetime, attempts: list[tuple[Orchestrator | None, str, int]], **fields: Any
) -> Job:
    """A finished job of `key` and its attempts: (node, outcome, units) each, with the fee booked as
    the engine books it (gateway/dispatch.py): a completed stage paid at its node's price, nothing else."""
    pipeline = fields.pop("pipeline", T2I[0])
    job = Job.objects.create(prompt="x", api_key=key, stages=[pipeline], parameters={"api": True}, **fields)
    Job.objects.filter(id=job.id).update(created_at=created)
    for where, outcome, units in attempts:
        paid = where is not None and outcome == AttemptOutcome.SUCCEEDED
        StageAttempt.objects.create(
            fee_wei=fee_wei(units, where.info["capabilities"][0]["price_per_unit"], 1) if paid else None,
            job=job,
            stage=pipeline,
            orchestrator=where,
            pipeline=pipeline,
            model_id=T2I[1],
            units=units,
            outcome=outcome,
        )
    return job


def get(client: Any, key: str, **query: str) -> Any:
    return client.get("/api/v1/usage", query, HTTP_AUTHORIZATION=f"Bearer {key}")


def assert_documented(client: Any, route: str, method: str, response: Any) -> None:
    document = client.get("/api/v1/openapi.json").json()
    schema = document["paths"][route][method]["responses"][str(response.status_code)]["content"]["application/json"]
    jsonschema_rs.validate({**schema["schema"], "components": document["components"]}, response.json())


def test_usage_counts_jobs_units_and_the_fees_paid_by_day_and_pipeline(client):
    mine, secret = ApiKey.issue("mine")
    other = ApiKey.issue("someone else's")[0]
    cheap, dear = node("http://a", PRICE), node("http://b", 3 * PRICE)
    day1 = datetime(2026, 11, 3, 23, 59, tzinfo=UTC)
    day2 = day1 + timedelta(minutes=2)  # the next UTC day
    # Paid once, at the node that completed it: the failed try elsewhere cost nothing.
    job_with(
        mine,
        day1,
        [(dear, AttemptOutcome.FAILED, 4096), (cheap, AttemptOutcome.SUCCEEDED, 4096)],
        status=JobStatus.SUCCEEDED,
        usd_per_eth_e8=3000 * 10**8,
    )
    job_with(mine, day2, [(dear, AttemptOutcome.SUCCEEDED, 1000)], status=JobStatus.SUCCEEDED)  # no rate recorded
    job_with(mine, day2, [(cheap, AttemptOutcome.FAILED, 4096)], status=JobStatus.FAILED, usd_per_eth_e8=3000 * 10**8)
    job_with(mine, day2, [(None, AttemptOutcome.SUCCEEDED, 64)], status=JobStatus.SUCCEEDED, pipeline="upscale")
    job_with(other, day2, [(cheap, AttemptOutcome.SUCCEEDED, 4096)], status=JobStatus.SUCCEEDED)

    response = get(client, secret, start="2026-11-01", end="2026-11-30")

    assert response.status_code == 200, response.content
    assert_documented(client, "/api/v1/usage", "get", response)
    answer = response.json()
    assert (answer["start"], answer["end"], answer["spend_limit"]) == ("2026-11-01", "2026-11-30", None)
    rows = {(row["date"], row["pipeline"]): row for row in answer["days"]}
    assert list(rows) == [("2026-11-03", "text-to-image"), ("2026-11-04", "text-to-image"), ("2026-11-04", "upscale")]
    first = rows["2026-11-03", "text-to-image"]
    assert (first["jobs"], first["succeeded"], first["units"]) == (1, 1, 4096)
    assert first["fees_wei"] == str(4096 * PRICE) and first["fees_eth"] == "0.004096"
    assert first["fees_usd"] == "12.288000" and first["unpriced_fees_wei"] == "0"  # 0.004096 ETH at $3000
    second = rows["2026-11-04", "text-to-image"]
    assert (second["jobs"], second["succeeded"], second["failed"], second["units"]) == (2, 1, 1, 1000)
    assert second["fees_wei"] == second["unpriced_fees_wei"] == str(1000 * 3 * PRICE)
    assert second["fees_usd"] is None
    # The fallback provider is not paid in tickets: the job and its units count, no fee.
    fallback = rows["2026-11-04", "upscale"]
    assert (fallback["jobs"], fallback["units"], fallback["fees_wei"]) == (1, 64, "0")
    total = answer["total"]
    assert (total["jobs"], total["units"]) == (4, 4096 + 1000 + 64)
    assert total["fees_wei"] == str(4096 * PRICE + 3000 * PRICE)
    assert total["fees_usd"] == "12.288000" and total["unpriced_fees_wei"] == str(3000 * PRICE)
    # Outside the period asked for, nothing.
    assert get(client, secret, start="2026-11-05", end="2026-11-05").json()["days"] == []


@pytest.mark.parametrize(
    ("query", "status", "said"),
    [
        ({"start": "2026-13-01"}, 422, ["query", "start"]),
        ({"end": "yesterday"}, 422, ["query", "end"]),
        ({"start": "0"}, 422, ["query", "start"]),  # no timestamps passed off as days
        ({"start": "2026-11-05", "end": "2026-11-01"}, 400, "is after end"),
        ({"start": "2024-01-01", "end": "2026-01-01"}, 400, "at most 367 days"),
    ],
)
def test_a_bad_period_is_refused_with_the_reason(client, query, status, said):
    key = ApiKey.issue("k")[1]
    response = get(client, key, **query)
    assert response.status_code == status
    detail = response.json()["detail"]
    if status == 422:
        assert detail[0]["loc"] == said
    else:
        assert said in detail["msg"]


def test_usage_needs_the_key(client):
    assert client.get("/api/v1/usage").status_code == 401


def test_the_default_period_is_the_last_30_days_to_today(client):
    key = ApiKey.issue("k")[1]
    answer = get(client, key).json()
    today = timezone.now().astimezone(UTC).date()
    assert (answer["start"], answer["end"]) == (str(today - timedelta(days=29)), str(today))


# -- the daily spend limit ---------------------------------------------------------------------------


@pytest.fixture
def selling(approved_models: Any, settings: Any, tmp_path: Any) -> Orchestrator:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAX_PRICE_PER_UNIT = 0
    # Paid in tickets (submission itself never calls the chain): off chain nothing is spent.
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:9"
    settings.MAX_TOTAL_EV = 10**18  # one request's tickets may cover these fees
    return node("http://a", PRICE)


def submit(client: Any, key: str) -> Any:
    return client.post(
        "/api/v1/text-to-image",
        data=json.dumps(SMALL),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        HTTP_PREFER="respond-async",
    )


def test_a_submission_that_would_pass_the_daily_limit_is_refused_with_402_the_numbers_and_the_reset(client, selling):
    limited, secret = ApiKey.issue("limited")
    ApiKey.objects.filter(pk=limited.pk).update(daily_spend_limit_wei=2 * SMALL_FEE)
    assert submit(client, secret).status_code == 202
    assert submit(client, secret).status_code == 202  # exactly at the limit: still within it

    refused = submit(client, secret)

    assert refused.status_code == 402
    assert_documented(client, "/api/v1/text-to-image", "post", refused)
    detail = refused.json()["detail"]
    tomorrow = timezone.now().astimezone(UTC).date() + timedelta(days=1)
    resets_at = f"{tomorrow.isoformat()}T00:00:00Z"
    assert detail["daily_limit_wei"] == str(2 * SMALL_FEE)
    assert detail["spent_today_wei"] == str(2 * SMALL_FEE)  # two queued jobs, at the most they may cost
    assert detail["request_wei"] == str(SMALL_FEE) and detail["resets_at"] == resets_at
    assert str(2 * SMALL_FEE) in detail["msg"] and resets_at in detail["msg"]
    assert Job.objects.count() == 2
    # The owner reads the same numbers from /usage.
    assert get(client, secret).json()["spend_limit"] == {
        "daily_limit_wei": str(2 * SMALL_FEE),
        "spent_today_wei": str(2 * SMALL_FEE),
        "resets_at": resets_at,
    }


def test_finished_jobs_count_at_what_they_cost_and_yesterdays_not_at_all(client, selling):
    limited, secret = ApiKey.issue("limited")
    ApiKey.objects.filter(pk=limited.pk).update(daily_spend_limit_wei=SMALL_FEE)
    assert submit(client, secret).status_code == 202
    assert submit(client, secret).status_code == 402
    job = Job.objects.get()
    # It failed: nothing was paid, so the day's spend is back to 0.
    Job.objects.filter(id=job.id).update(status=JobStatus.FAILED)
    assert submit(client, secret).status_code == 202
    second = Job.objects.exclude(id=job.id).get()
    Job.objects.filter(id=second.id).update(created_at=timezone.now() - timedelta(days=1))
    # Yesterday's job no longer counts today.
    assert submit(client, secret).status_code == 202


def test_a_job_that_finished_counts_at_the_fee_booked_not_the_most_it_might_have_cost(client, selling):
    limited, secret = ApiKey.issue("limited")
    ApiKey.objects.filter(pk=limited.pk).update(daily_spend_limit_wei=SMALL_FEE + SMALL_FEE // 2)
    assert submit(client, secret).status_code == 202
    assert submit(client, secret).status_code == 402  # two at the most they may cost: over
    job = Job.objects.get()
    Job.objects.filter(id=job.id).update(status=JobStatus.SUCCEEDED)
    StageAttempt.objects.create(
        job=job, stage=T2I[0], pipeline=T2I[0], model_id=T2I[1], units=4096, outcome="succeeded", fee_wei=SMALL_FEE // 4
    )
    assert submit(client, secret).status_code == 202


def test_off_chain_nothing_is_paid_so_no_limit_is_reached(client, selling, settings):
    settings.WEB3_PROVIDER_URI = ""
    limited, secret = ApiKey.issue("limited")
    ApiKey.objects.filter(pk=limited.pk).update(daily_spend_limit_wei=0)
    assert submit(client, secret).status_code == 202


def test_a_key_without_a_limit_and_other_keys_spend_are_not_refused(client, selling):
    limited = ApiKey.issue("limited")[0]
    ApiKey.objects.filter(pk=limited.pk).update(daily_spend_limit_wei=0)
    free = ApiKey.issue("free")[1]
    for _ in range(3):
        assert submit(client, free).status_code == 202
    assert usage.spend_today(ApiKey.objects.get(pk=limited.pk)).spent_wei == 0


def test_usage_and_spend_read_a_period_with_more_jobs_than_a_query_may_bind(client, settings):
    # SQLite binds at most SQLITE_LIMIT_VARIABLE_NUMBER values per statement (PostgreSQL 65,535): the fees
    # of a busy key's jobs are read through a subquery, never one bound value per job. The limit is
    # lowered here so that a few rows pass it.
    if connection.vendor != "sqlite":
        pytest.skip("the bound-value limit is lowered through SQLite's own API")
    settings.WEB3_PROVIDER_URI = "http://chain.invalid"
    api_key, key = ApiKey.issue("busy")
    api_key.daily_spend_limit_wei = 10**30
    api_key.save()
    paid = node("http://n-1", PRICE)
    now = timezone.now()
    for _ in range(60):
        job_with(api_key, now, [(paid, AttemptOutcome.SUCCEEDED, 64 * 64)], status=JobStatus.SUCCEEDED)
    connection.ensure_connection()
    raw = connection.connection
    before = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)
    try:
        response = get(client, key)
        assert response.status_code == 200, response.content
        assert response.json()["total"]["fees_wei"] == str(60 * SMALL_FEE)
        assert response.json()["spend_limit"]["spent_today_wei"] == str(60 * SMALL_FEE)
    finally:
        raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)


@pytest.mark.django_db(transaction=True)
def test_the_eth_usd_rate_is_read_before_the_transaction_that_holds_the_keys_limit(client, selling, monkeypatch):
    # The rate may ask the chain (seconds, when it is slow): never while the key's row, or SQLite's one
    # write lock, is held for the submission.
    inside: list[bool] = []

    def rate() -> Any:
        inside.append(connection.in_atomic_block)
        return eth_usd.current_rate()

    monkeypatch.setattr(api, "current_rate", rate)
    monkeypatch.setattr(workflow, "current_rate", rate)
    api_key, key = ApiKey.issue("limited")
    api_key.daily_spend_limit_wei = 10 * SMALL_FEE
    api_key.save()
    assert submit(client, key).status_code == 202
    assert inside and not any(inside), inside
