"""Screenshots of the studio's My GIFs page, the gallery grid with its vote buttons and countdown,
a remix's pre-filled form (its GIF's model picked among the round's two) and the staff round editor.

    .venv/bin/python -m bench.studio_screenshots [--output docs/screenshots]

A private site in a temporary directory, as bench/cost_screenshots.py runs one: a fresh
SQLite database holding one open round, a member ("maya") with GIFs in every state and
a vote on another member's entry, two other members' approved entries with votes, and a
staff account. The GIFs are colour gradients drawn here (no model runs, no job is
queued). Daphne on a free port, Debian's Chromium through Playwright signed in as maya,
then as staff. Writes studio-my-gifs.png, studio-round-grid.png, studio-remix.png and
studio-round-editor.png; daphne is stopped by the PID this script started.
"""

from __future__ import annotations

import colorsys
import io
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.cost_screenshots import CHROMIUM, CHROMIUM_ARGS, DESKTOP, screenshot_site

PROMPTS = [
    "a paper boat sailing through a neon city",
    "a robot watering a tiny garden on the moon",
    "a fox made of autumn leaves running",
    "a lighthouse blinking in a violet storm",
    "a jellyfish drifting over a coral reef",
    "a steam train crossing a bridge of clouds",
]


def gradient_gif(hue: float, size: tuple[int, int] = (256, 256), frames: int = 8) -> bytes:
    """A short looping GIF: a colour gradient sliding sideways, one hue per GIF."""
    from PIL import Image

    width, height = size
    images = []
    for frame in range(frames):
        image = Image.new("RGB", size)
        pixels = image.load()
        for x in range(width):
            shade = ((x + frame * width // frames) % width) / width
            red, green, blue = colorsys.hsv_to_rgb((hue + shade * 0.25) % 1, 0.7, 0.4 + 0.5 * shade)
            for y in range(height):
                light = 0.6 + 0.4 * y / height
                pixels[x, y] = (int(red * 255 * light), int(green * 255 * light), int(blue * 255 * light))
        images.append(image)
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=160, loop=0)
    return buffer.getvalue()


def finished_job(owner: Any, prompt: str, hue: float, status: str = "succeeded", **parameters: Any) -> Any:
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from livepeer_ai.gateway.models import Job
    from livepeer_ai.gateway.workflow import DEFAULT_PARAMETERS, GIF_STAGES

    job = Job.objects.create(
        prompt=prompt,
        owner=owner,
        stages=list(GIF_STAGES),
        parameters={**DEFAULT_PARAMETERS, **parameters},
        status=status,
        stage_index=1 if status == "succeeded" else 0,
        finished_at=timezone.now() if status != "running" else None,
    )
    if status == "succeeded":
        size = (parameters.get("width", 256), parameters.get("height", 256))
        path = default_storage.save(f"jobs/{job.id}/image-to-video/video.gif", ContentFile(gradient_gif(hue, size)))
        checked = {"nsfw": False, "nsfw_checked": True}
        job.outputs = {
            "text-to-image": {"seed": 1000 + int(hue * 100), **checked},
            "image-to-video": {"gif": path, "frames": [], "fps": 6, **checked},
        }
        job.save(update_fields=["outputs"])
    return job


def seed_studio() -> tuple[Any, Any, Any, Any]:
    """(maya, staff, the round, maya's landscape GIF): the rows the screenshots show."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from livepeer_ai.registry.curation import register
    from studio.models import Entry, Generation, Round, Safety, Vote

    User = get_user_model()
    now = timezone.now()
    round = Round.objects.create(
        slug="neon-dreams",
        title="Neon dreams",
        theme="Machines dreaming of nature",
        description="Make a short GIF on the theme, enter your best, and vote for others' (not your own).",
        prompt_opens_at=now - timedelta(days=1),
        prompt_closes_at=now + timedelta(days=2, hours=5, minutes=12),
        voting_opens_at=now - timedelta(days=1),
        voting_closes_at=now + timedelta(days=3, hours=5),
    )
    # Two text-to-image models on offer, as in the demo's round: the remix shows its GIF's, the editor both.
    image_models = {
        model_id: register({"pipeline": "text-to-image", "model_id": model_id, "family": family}, status="approved")
        for model_id, family in (("livepeer-ai/tiny-sdxl-turbo", "sdxl-turbo"), ("livepeer-ai/tiny-sd15", "sd15"))
    }
    round.text_to_image_models.set(image_models.values())
    maya = User.objects.create_user("maya", password="maya-screenshot-pass")
    staff = User.objects.create_user("curator", password="curator-screenshot-pass", is_staff=True)
    base = {"negative_prompt": "", "style": "", "text_to_image_steps": 6, "image_to_video_steps": 12}
    landscape = None
    for index, (prompt, status, size) in enumerate(
        [
            (PROMPTS[0], "succeeded", "landscape"),
            (PROMPTS[1], "succeeded", "square"),
            (PROMPTS[2], "running", "square"),
            (PROMPTS[3], "succeeded", "portrait"),
            (PROMPTS[4], "failed", "square"),
            (PROMPTS[5], "succeeded", "square"),
        ]
    ):
        width, height = {"square": (256, 256), "landscape": (384, 256), "portrait": (256, 384)}[size]
        model = "livepeer-ai/tiny-sd15" if size == "landscape" else "livepeer-ai/tiny-sdxl-turbo"
        job = finished_job(
            maya, prompt, index / 6, status=status, width=width, height=height, models={"text-to-image": model}
        )
        choices = {
            **base,
            "prompt": prompt,
            "size": size,
            "motion_bucket_id": 127,
            "fps": 6,
            "seed": None,
            "model": model,
        }
        Generation.objects.create(job=job, member=maya, round=round, prompt=prompt, choices=choices)
        if index == 1:
            Entry.objects.create(round=round, job=job, author=maya, safety=Safety.CLEAN, vote_count=3)
        if size == "landscape":
            landscape = job
    for author_index, name in enumerate(("sam", "lee")):
        author = User.objects.create_user(name)
        for number in range(3):
            prompt = PROMPTS[(author_index * 3 + number + 2) % len(PROMPTS)]
            job = finished_job(author, prompt, (0.15 + author_index * 0.4 + number * 0.1) % 1)
            Generation.objects.create(job=job, member=author, round=round, prompt=prompt, choices={"prompt": prompt})
            Entry.objects.create(round=round, job=job, author=author, safety=Safety.CLEAN, vote_count=5 - number)
    voted = Entry.objects.exclude(author=maya).order_by("pk").first()
    assert voted is not None
    Vote.objects.create(entry=voted, voter=maya)
    return maya, staff, round, landscape


def prepare(env: dict[str, str]) -> dict[str, Any]:
    """Migrate and seed in this process on the site's database; what the browser needs to sign in and where to go."""
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", "--noinput", verbosity=0)
    call_command("collectstatic", "--noinput", verbosity=0)
    maya, staff, round, landscape = seed_studio()
    sessions = {}
    for name, user in (("maya", maya), ("staff", staff)):
        client = Client()
        client.force_login(user)
        sessions[name] = client.cookies["sessionid"].value
    return {"sessions": sessions, "round": round.slug, "remix": str(landscape.id)}


def take(base: str, seeded: dict[str, Any], output: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    output.mkdir(parents=True, exist_ok=True)
    shots = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for who, pages in (
                (
                    "maya",
                    [
                        ("/my-gifs/", "#my-gifs", "studio-my-gifs"),
                        (f"/rounds/{seeded['round']}/", "#entry-grid", "studio-round-grid"),
                        (f"/?remix={seeded['remix']}", "#prefilled", "studio-remix"),
                    ],
                ),
                ("staff", [(f"/rounds/{seeded['round']}/edit/", "#round-form", "studio-round-editor")]),
            ):
                context: Any = browser.new_context(viewport=DESKTOP, base_url=base)
                context.add_cookies([{"name": "sessionid", "value": seeded["sessions"][who], "url": base}])
                page = context.new_page()
                for path, ready, name in pages:
                    page.goto(path)
                    page.wait_for_selector(ready)
                    page.wait_for_load_state("networkidle")
                    shots.append(output / f"{name}.png")
                    page.screenshot(path=str(shots[-1]), full_page=True)
                context.close()
        finally:
            browser.close()
    return shots


def main() -> None:
    screenshot_site(__doc__.splitlines()[0], "studio-screenshots-", prepare, take)


if __name__ == "__main__":
    main()
