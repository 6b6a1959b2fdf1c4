"""livepeer-ai: an open AI-video compute network and its showcase app."""

from __future__ import annotations

from livepeer_ai.celery import app as celery_app

__all__ = ["celery_app"]
