from __future__ import annotations

import os
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the demo's admin and member accounts (idempotent) and print how to log in."

    def handle(self, *args: Any, **options: Any) -> None:
        User = get_user_model()
        accounts = [
            ("admin", os.environ.get("DEMO_ADMIN_PASSWORD", "admin-demo-pass"), True),
            ("member", os.environ.get("DEMO_MEMBER_PASSWORD", "member-demo-pass"), False),
        ]
        for username, password, is_admin in accounts:
            user, created = User.objects.get_or_create(username=username)
            if created:
                user.set_password(password)
                user.is_staff = user.is_superuser = is_admin
                user.save()
                self.stdout.write(f"created {username!r} with password {password!r}")
            else:
                self.stdout.write(f"{username!r} exists (password unchanged; demo default {password!r})")
        self.stdout.write("admin site: http://127.0.0.1:8000/admin/")
