"""Redis down: the dashboard's live pushes log one warning line per outage, no traceback per push."""

from __future__ import annotations

import logging

import pytest

from dashboard import live
from livepeer_ai.ports import free_port
from tests.livepeer_ai.test_quiet_logs import Collected


@pytest.mark.django_db
def test_pushes_to_a_channel_layer_that_does_not_answer_are_one_warning_line(settings, personas):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": f"redis://127.0.0.1:{free_port()}/0"}]},
        }
    }
    collected = Collected()
    logging.getLogger(live.__name__).addHandler(collected)
    try:
        for _ in range(3):
            live.publish({personas.operator_address, personas.other_operator_address})
    finally:
        logging.getLogger(live.__name__).removeHandler(collected)
        live.pushes.down_since = None
    (down,) = collected.records
    assert down.levelno == logging.WARNING and down.exc_info is None
    assert "live dashboard pushes paused" in down.getMessage()
