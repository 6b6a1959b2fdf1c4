from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "livepeer_ai.payments"
    label = "payments"

    def ready(self) -> None:
        from livepeer_ai.json_input import restore_recursion_limit

        # eth-account imports py_ecc, which sets the recursion limit to 100,000 (json_input.py says
        # why that crashes a process); done here, before any request or task can import it first.
        restore_recursion_limit()
