"""The site tells a member when a moderator approves, hides or stops hiding their entry: a count in the
nav on every page, a list that reads them, and an entry that can be shared only once others can see it."""

from __future__ import annotations

import re

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from livepeer_ai.asgi import application
from studio import moderation, notifications
from studio.models import Notification, NotificationKind, Safety
from tests.studio.factories import make_entry, make_round


def unread_in_nav(client) -> int:
    html = client.get("/rounds/").content.decode()
    nav = html.split('id="nav-notifications"', 1)[1].split("</a>", 1)[0]
    found = re.search(r'data-unread="(\d+)"', nav)
    return int(found.group(1)) if found else 0


@pytest.mark.django_db
def test_a_pending_entry_is_shared_only_once_approved_and_its_author_is_told(client, personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED, prompt="a robot in the rain")
    client.force_login(personas.member)
    html = client.get(entry.get_absolute_url()).content.decode()
    assert 'id="share-url"' not in html and 'id="share-x"' not in html
    assert "You'll get a notification here on the site when a moderator approves or hides it" in html
    assert unread_in_nav(client) == 0

    client.force_login(personas.admin)
    assert client.post(f"/moderation/entries/{entry.pk}/approve/").status_code == 302

    client.force_login(personas.member)
    assert unread_in_nav(client) == 1
    listed = client.get("/notifications/").content.decode()
    note = listed.split('class="notification unread"', 1)[1].split("</li>", 1)[0]
    assert 'data-kind="approved"' in note and f'href="{entry.get_absolute_url()}"' in note
    assert "A moderator approved your entry “a robot in the rain”" in note
    assert unread_in_nav(client) == 0  # the list read it
    assert 'class="notification unread"' not in client.get("/notifications/").content.decode()
    html = client.get(entry.get_absolute_url()).content.decode()
    assert 'id="share-url"' in html and 'id="share-x"' in html and 'id="not-shared"' not in html


@pytest.mark.django_db
def test_hiding_and_showing_again_are_each_said_once(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.CLEAN)
    moderation.hide(entry, personas.admin)
    moderation.hide(entry, personas.admin)  # already hidden: nothing new to say
    moderation.unhide(entry, personas.admin)
    moderation.unhide(entry, personas.admin)
    kinds = list(Notification.objects.filter(member=personas.member).order_by("id").values_list("kind", flat=True))
    assert kinds == [NotificationKind.HIDDEN, NotificationKind.SHOWN]


@pytest.mark.django_db
def test_approving_twice_tells_the_author_once(personas):
    entry = make_entry(personas.member, make_round(), safety=Safety.FLAGGED)
    moderation.approve(entry, personas.admin)
    first_approval = entry.approved_at
    moderation.approve(entry, personas.admin)
    assert entry.approved_at == first_approval
    assert Notification.objects.filter(member=personas.member, kind=NotificationKind.APPROVED).count() == 1


@pytest.mark.django_db
def test_a_moderator_acting_on_their_own_entry_is_not_notified(personas):
    entry = make_entry(personas.admin, make_round(), safety=Safety.UNCHECKED)
    moderation.approve(entry, personas.admin)
    assert not Notification.objects.exists()


@pytest.mark.django_db
def test_opening_the_entry_reads_its_notifications_only(client, personas):
    round = make_round()
    approved = make_entry(personas.member, round, safety=Safety.UNCHECKED)
    hidden = make_entry(personas.member, round, safety=Safety.CLEAN)
    moderation.approve(approved, personas.admin)
    moderation.hide(hidden, personas.admin)
    client.force_login(personas.member)
    assert unread_in_nav(client) == 2
    client.get(hidden.get_absolute_url())
    assert unread_in_nav(client) == 1
    assert Notification.objects.get(read_at__isnull=True).entry == approved


@pytest.mark.django_db
def test_members_see_only_their_own_notifications_and_visitors_log_in(client, personas, other_member):
    entry = make_entry(personas.member, make_round(), safety=Safety.UNCHECKED, prompt="mine alone")
    moderation.approve(entry, personas.admin)
    response = client.get("/notifications/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(other_member)
    assert unread_in_nav(client) == 0
    html = client.get("/notifications/").content.decode()
    assert "mine alone" not in html and 'id="no-notifications"' in html
    assert Notification.objects.get().read_at is None  # another member's list reads nothing of theirs


@pytest.mark.django_db
def test_visitors_have_no_notifications_link(client):
    assert 'id="nav-notifications"' not in client.get("/rounds/").content.decode()


ORIGIN = [(b"origin", b"http://127.0.0.1:8000")]


async def nav_socket(member) -> WebsocketCommunicator:
    """The member's page's socket, connected, past the count it sends on connecting."""
    socket = WebsocketCommunicator(application, "/ws/notifications/", headers=ORIGIN)
    socket.scope["user"] = member
    connected, _ = await socket.connect()
    assert connected
    first = await socket.receive_from(timeout=5)
    assert first.startswith('<span id="nav-unread" hx-swap-oob="true">') and "unread-notifications" not in first
    return socket


@pytest.mark.django_db(transaction=True)
async def test_the_count_is_pushed_to_the_members_open_pages_as_it_changes(personas, other_member):
    entry = await database_sync_to_async(lambda: make_entry(personas.member, make_round(), safety=Safety.UNCHECKED))()
    mine, theirs = await nav_socket(personas.member), await nav_socket(other_member)

    await database_sync_to_async(moderation.approve)(entry, personas.admin)
    pushed = await mine.receive_from(timeout=5)
    assert 'hx-swap-oob="true"' in pushed and 'id="unread-notifications" data-unread="1"' in pushed
    assert await theirs.receive_nothing(timeout=0.2)  # another member's pages hear nothing of it

    # Read in one tab, the count leaves the member's other tabs too.
    await database_sync_to_async(notifications.mark_read)(personas.member)
    read = await mine.receive_from(timeout=5)
    assert read.startswith('<span id="nav-unread"') and "unread-notifications" not in read
    await mine.disconnect()
    await theirs.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_visitors_socket_for_notifications_is_refused():
    socket = WebsocketCommunicator(application, "/ws/notifications/", headers=ORIGIN)
    connected, code = await socket.connect()
    assert not connected and code == 4401


@pytest.mark.django_db
def test_members_pages_connect_the_count_socket(client, personas):
    client.force_login(personas.member)
    nav = client.get("/rounds/").content.decode().split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert 'ws-connect="/ws/notifications/"' in nav and 'id="nav-unread"' in nav
    assert "hx-swap-oob" not in nav  # only the pushed fragment swaps by id
