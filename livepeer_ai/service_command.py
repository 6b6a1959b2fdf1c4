"""The base of the management commands that run a service (runner, node, engine, chain)."""

from __future__ import annotations

from django.core.management.base import BaseCommand


class ServiceCommand(BaseCommand):
    """A service, not the site: Django's system checks import the site's URL conf, and with it every
    view and the chain client, seconds of CPU at each start and memory for good, so a service skips
    them. `manage.py check --deploy` and `migrate` run them at deploy (docs/deploy.md)."""

    requires_system_checks: list[str] = []
