from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from livepeer_ai.gateway.models import JobStatus
from livepeer_ai.gateway.progress import job_group, queue_group
from studio.notifications import member_group, unread_fragment
from studio.results import describe_job, studio_job


@database_sync_to_async
def render_progress(
    job_id: str, user: Any, snapshot: dict[str, Any] | None = None, preview: tuple[int, str] | None = None
) -> tuple[str, str] | None:
    """The progress fragment, and the capability the job waits for ("" when it is not waiting).

    `preview`: (stage index, image) of the latest live preview, shown while that stage runs."""
    job = studio_job(job_id, user)
    if job is None:
        return None
    # Show the step this message was sent for while the row is still on that stage,
    # so fast steps are each shown rather than skipped to the latest.
    if snapshot and job.status == JobStatus.RUNNING and snapshot.get("stage_index") == job.stage_index:
        job.step, job.total_steps = snapshot["step"], snapshot["total_steps"]
    # The watcher's own buttons (cancel, retry, enter) come with the fragment.
    context: dict[str, Any] = {"job": job, "view": describe_job(job, user), "oob": True}
    if preview is not None and job.status == JobStatus.RUNNING and preview[0] == job.stage_index:
        context["preview"] = preview[1]
    return render_to_string("studio/job.html#job-progress", context), job.waiting_for


class JobProgressConsumer(AsyncWebsocketConsumer):
    """Pushes the job's progress fragment (hx-swap-oob) on connect and on every change."""

    async def connect(self) -> None:
        self.job_id = str(self.scope["url_route"]["kwargs"]["job_id"])
        self.group = job_group(self.job_id)
        self.user = self.scope.get("user") or AnonymousUser()
        # The latest preview (stage index, image): kept here, never stored, so steps without one still show it.
        self.preview: tuple[int, str] | None = None
        # In the job's group before its row is read: a change committed after the read (a cancel
        # clicked as the page opens) is then sent after this first fragment, never lost behind it.
        await self.channel_layer.group_add(self.group, self.channel_name)
        rendered = await render_progress(self.job_id, self.user)
        if rendered is None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            await self.close(code=4404)
            return
        self.queue = ""
        await self.follow_queue(rendered[1])
        await self.accept()
        # A reload or a second tab starts from the row, not from the next event.
        await self.send(text_data=rendered[0])

    async def follow_queue(self, capability: str) -> None:
        """While the job waits, its place moves whenever its capability's queue moves: listen there too."""
        if capability == self.queue:
            return
        if self.queue:
            await self.channel_layer.group_discard(queue_group(self.queue), self.channel_name)
        if capability:
            await self.channel_layer.group_add(queue_group(capability), self.channel_name)
        self.queue = capability

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if getattr(self, "queue", ""):
            await self.channel_layer.group_discard(queue_group(self.queue), self.channel_name)

    async def job_updated(self, event: dict[str, Any]) -> None:
        snapshot = event.get("snapshot") or {}
        if isinstance(snapshot.get("preview"), str):
            self.preview = (int(snapshot["stage_index"]), snapshot["preview"])
        rendered = await render_progress(self.job_id, self.user, event.get("snapshot"), self.preview)
        if rendered is not None:
            await self.follow_queue(rendered[1])
            await self.send(text_data=rendered[0])


class UnreadNotificationsConsumer(AsyncWebsocketConsumer):
    """Sends a member's page the nav's unread count (hx-swap-oob) on connect and whenever it changes.

    One group per member; the message says only that the count changed, the count is read afresh.
    """

    async def connect(self) -> None:
        self.user = self.scope.get("user") or AnonymousUser()
        if not self.user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = member_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        # Whatever changed between the page's render and this socket is shown too.
        await self.send(text_data=await database_sync_to_async(unread_fragment)(self.user))

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def notifications_changed(self, event: dict[str, Any]) -> None:
        await self.send(text_data=await database_sync_to_async(unread_fragment)(self.user))
