"""Moderation: unchecked or flagged entries wait for approval, hidden ones vanish, members report, staff act."""

from __future__ import annotations

import pytest

from studio.models import Entry, Report, Safety
from studio.rounds import close_round
from tests.studio.conftest import text_of
from tests.studio.factories import closed_round, make_entry, make_round


def in_gallery(client, entry: Entry) -> bool:
    return f'id="entry-{entry.pk}"' in client.get(entry.round.get_absolute_url()).content.decode()


def in_leaderboard(client, entry: Entry) -> bool:
    html = client.get(entry.round.get_absolute_url()).content.decode()
    return f'<li data-entry="{entry.pk}">' in html.split('id="leaderboard"')[1].split("</section>")[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [{"safety": Safety.UNCHECKED}, {"safety": Safety.FLAGGED}, {"safety": Safety.CLEAN, "hidden": True}],
    ids=["unchecked", "flagged", "hidden"],
)
def test_entries_not_public_are_absent_for_others_and_shown_to_author_and_staff(client, personas, other_member, fields):
    entry = make_entry(personas.member, make_round(), votes=2, **fields)
    for viewer in (None, other_member):
        if viewer:
            client.force_login(viewer)
        assert not in_gallery(client, entry)
        assert not in_leaderboard(client, entry)
        assert client.get(entry.get_absolute_url()).status_code == 404
    for viewer in (personas.member, personas.admin):
        client.force_login(viewer)
        page = client.get(entry.get_absolute_url())
        assert page.status_code == 200
        assert 'id="not-public"' in page.content.decode()
        assert '<meta name="robots" content="noindex">' in page.content.decode()


@pytest.mark.django_db
def test_a_checked_clean_entry_is_public_at_once(client, personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    assert in_gallery(client, entry) and client.get(entry.get_absolute_url()).status_code == 200


@pytest.mark.django_db
def test_approving_lets_an_unchecked_entry_into_the_gallery(client, personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED)
    client.force_login(personas.admin)
    html = client.get("/moderation/").content.decode()
    assert f'data-entry="{entry.pk}"' in html.split('id="awaiting-review"')[1].split("</section>")[0]
    response = client.post(f"/moderation/entries/{entry.pk}/approve/")
    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.approved_by == personas.admin and entry.is_public
    client.logout()
    assert in_gallery(client, entry) and in_leaderboard(client, entry)


@pytest.mark.django_db
def test_hiding_removes_an_entry_everywhere_and_resolves_its_reports(client, personas, other_member):
    entry = make_entry(personas.member, make_round())
    report = Report.objects.create(entry=entry, reporter=other_member, reason="hateful")
    client.force_login(personas.admin)
    assert f'data-report="{report.pk}"' in client.get("/moderation/").content.decode()
    client.post(f"/moderation/entries/{entry.pk}/hide/")
    report.refresh_from_db()
    assert (report.resolution, report.resolved_by) == ("hidden", personas.admin)
    assert f'data-report="{report.pk}"' not in client.get("/moderation/").content.decode()
    client.logout()
    assert not in_gallery(client, entry)
    assert client.get(entry.get_absolute_url()).status_code == 404
    client.force_login(personas.admin)
    client.post(f"/moderation/entries/{entry.pk}/unhide/")
    client.logout()
    assert in_gallery(client, entry)


@pytest.mark.django_db
def test_a_hidden_entry_cannot_win(personas, other_member):
    round = closed_round()
    hidden = make_entry(personas.member, round, votes=10, hidden=True)
    shown = make_entry(other_member, round, votes=1)
    close_round(round.pk)
    assert [e.pk for e in round.winners()] == [shown.pk]
    hidden.refresh_from_db()
    assert hidden.place is None


@pytest.mark.django_db
def test_a_winner_hidden_later_leaves_the_winners_list(personas):
    round = closed_round()
    winner = make_entry(personas.member, round, votes=3)
    close_round(round.pk)
    Entry.objects.filter(pk=winner.pk).update(hidden=True)
    assert list(round.winners()) == []


@pytest.mark.django_db
def test_a_member_reports_an_entry_once(client, personas, other_member):
    entry = make_entry(personas.member, make_round())
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/report/", {"reason": "off_theme", "details": "no robots"})
    assert response.status_code == 200
    assert "Thanks for the report" in text_of(response)
    report = Report.objects.get()
    assert (report.entry, report.reporter, report.reason, report.details) == (
        entry,
        other_member,
        "off_theme",
        "no robots",
    )
    again = client.post(f"/entries/{entry.pk}/report/", {"reason": "other"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 409
    assert "You already reported this entry" in text_of(again)
    assert Report.objects.count() == 1


@pytest.mark.django_db
def test_a_report_needs_a_reason(client, personas, other_member):
    entry = make_entry(personas.member, make_round())
    client.force_login(other_member)
    response = client.post(f"/entries/{entry.pk}/report/", {"reason": "because"})
    assert response.status_code == 400
    assert "Select a valid choice" in text_of(response)
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_you_cannot_report_your_own_entry(client, personas):
    entry = make_entry(personas.member, make_round())
    client.force_login(personas.member)
    assert 'id="report"' not in client.get(entry.get_absolute_url()).content.decode()
    assert client.post(f"/entries/{entry.pk}/report/", {"reason": "other"}).status_code == 403
    assert not Report.objects.exists()


@pytest.mark.django_db
def test_a_moderator_dismisses_a_report_and_the_entry_stays(client, personas, other_member):
    entry = make_entry(personas.member, make_round())
    report = Report.objects.create(entry=entry, reporter=other_member, reason="other")
    client.force_login(personas.admin)
    client.post(f"/moderation/reports/{report.pk}/dismiss/")
    report.refresh_from_db()
    assert report.resolution == "dismissed" and report.resolved_at is not None
    client.logout()
    assert in_gallery(client, entry)


@pytest.mark.django_db
def test_an_unknown_moderation_action_is_404(client, personas):
    entry = make_entry(personas.member, make_round())
    client.force_login(personas.admin)
    assert client.post(f"/moderation/entries/{entry.pk}/delete/").status_code == 404
