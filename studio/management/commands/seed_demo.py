from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils import timezone

from livepeer_ai.registry.models import ModelEntry
from studio.models import Round
from studio.rounds import current_round

# The text-to-image models the demo's round offers: both are sold by the demo's nodes
# (config/demo/orchestrator-*.toml) and registered by build_tiny_models.
DEMO_IMAGE_MODELS = ("livepeer-ai/tiny-sdxl-turbo", "livepeer-ai/tiny-sd15")


class Command(BaseCommand):
    help = "Create the demo's accounts and a round open for GIFs and votes now (idempotent); print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        accounts = [
            ("admin", os.environ.get("DEMO_ADMIN_PASSWORD", "admin-demo-pass"), True),
            ("member", os.environ.get("DEMO_MEMBER_PASSWORD", "member-demo-pass"), False),
        ]
        for username, password, is_admin in accounts:
            user, created = User.objects.get_or_create(username=username, defaults={"email": f"{username}@localhost"})
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = is_admin
                user.save()
                self.stdout.write(f"created {username!r} with password {password!r}")
            else:
                self.stdout.write(f"{username!r} exists (password unchanged; demo default {password!r})")
        self.seed_round()
        self.stdout.write("admin site: http://127.0.0.1:8000/admin/")

    def seed_round(self) -> None:
        """A round whose GIF and voting windows are both open now, so the demo runs end to end."""
        open_now = current_round()
        if open_now is not None and open_now.takes_votes():
            self.stdout.write(f"round {open_now.slug!r} is open for GIFs and votes until {open_now.prompt_closes_at}")
            self.offer_models(open_now)
            return
        now = timezone.now()
        round = Round.objects.create(
            slug=f"demo-{now:%Y%m%d-%H%M%S}",
            title=f"Demo round, {now:%d %b %Y}",
            theme="Machines dreaming of nature",
            description="Make a short GIF on the theme, enter your best, and vote for others' (not your own).",
            prompt_opens_at=now - timedelta(minutes=1),
            prompt_closes_at=now + timedelta(days=7),
            voting_opens_at=now - timedelta(minutes=1),
            voting_closes_at=now + timedelta(days=7, hours=1),
        )
        self.stdout.write(f"created round {round.slug!r}, open for GIFs and votes for 7 days")
        self.offer_models(round)

    def offer_models(self, round: Round) -> None:
        """The round lets members pick the first frame's model among the tiny ones the demo's nodes sell."""
        models = ModelEntry.objects.filter(pipeline="text-to-image", model_id__in=DEMO_IMAGE_MODELS)
        round.text_to_image_models.add(*models)
        names = ", ".join(sorted(round.text_to_image_models.values_list("model_id", flat=True)))
        self.stdout.write(
            f"round {round.slug!r} offers the text-to-image models {names}"
            if names
            else f"round {round.slug!r} offers the studio's default text-to-image model"
        )
