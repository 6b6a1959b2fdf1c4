"""segment-anything-2's answers, kept as a file beside the job rather than in its row.

Livepeer's MasksResponse writes every mask value as text: three masks of a 1024 px image are
some 60 MB, too much for a JSON column read on every poll. The file holds the answer as the
node sent it (its MasksResponse fields, and `frames` for a video); the job's output names it.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from livepeer_ai.gateway.models import Job

MASK_FIELDS = ("masks", "scores", "logits", "frames")


def is_masks(result: dict[str, Any]) -> bool:
    return "masks" in result and "scores" in result


def store_masks(job: Job, result: dict[str, Any]) -> dict[str, Any]:
    """The job output that names the stored answer."""
    answer = {key: result[key] for key in MASK_FIELDS if key in result}
    path = default_storage.save(f"jobs/{job.id}/masks.json", ContentFile(json.dumps(answer).encode()))
    return {"masks_file": path}


def masks_body(output: dict[str, Any]) -> dict[str, Any]:
    """The answer as the node sent it, read back from its file."""
    with default_storage.open(output["masks_file"]) as handle:
        return dict(json.load(handle))
