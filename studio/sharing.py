"""What a shared entry link unfurls into: Open Graph and Twitter card fields, all absolute URLs."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import HttpRequest

from studio.models import Entry


@dataclass(frozen=True)
class ShareCard:
    url: str
    title: str
    description: str
    image: str
    video: str
    post_to_x: str


def share_card(request: HttpRequest, entry: Entry) -> ShareCard:
    url = request.build_absolute_uri(entry.get_absolute_url())
    prompt = entry.prompt if len(entry.prompt) <= 80 else entry.prompt[:79] + "…"
    title = f"“{prompt}”, a GIF for {entry.round.title}"
    votes = f"{entry.vote_count} vote{'' if entry.vote_count == 1 else 's'}"
    description = (
        f"By {entry.author.get_username()} · theme: {entry.round.theme} · {votes}. Vote for it, or make your own."
    )
    return ShareCard(
        url=url,
        title=title,
        description=description,
        image=request.build_absolute_uri(entry.gif_url),
        video=request.build_absolute_uri(entry.mp4_url) if entry.mp4_url else "",
        post_to_x="https://twitter.com/intent/tweet?" + urlencode({"text": title, "url": url}),
    )
