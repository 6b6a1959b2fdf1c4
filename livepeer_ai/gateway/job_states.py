"""What a job's state reads as to an API client: the runner API's result shape, and its status and error.

The API answers with it (`GET /jobs/<id>`, the event stream) and webhooks carry it
(gateway/webhooks.py); `link` makes a stored file's absolute, signed URL.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from livepeer_ai.gateway import masks
from livepeer_ai.gateway.models import Job, JobStatus


def result_body(job: Job, link: Callable[[str], str]) -> dict[str, Any]:
    """The runner API's response shape, with absolute, fetchable media URLs."""
    output = job.outputs.get(job.stages[0], {})
    if "masks_file" in output:
        return masks.masks_body(output)  # segment-anything-2's MasksResponse, as the runner sent it
    if "choices" in output:
        return dict(output)  # llm's LLMResponse, as the runner sent it
    if "text" in output:
        return dict(output)  # image-to-text's {"text"}, audio-to-text's {"text", "chunks"}: as the runner sent them
    if "audio" in output:
        return {"audio": {"url": link(output["audio"])}}  # text-to-speech's AudioResponse
    if "images" in output:
        return {"images": [{"url": link(i["path"]), "seed": i["seed"], "nsfw": i["nsfw"]} for i in output["images"]]}
    # Video comes back as images[].url of the MP4, as go-livepeer's gateway returns it.
    return {
        "images": [{"url": link(output["mp4"]), "seed": output.get("seed"), "nsfw": False}],
        "gif": {"url": link(output["gif"])},
    }


# A failed job's status for the codes that are not a node's or runner's HTTP status (runner_NNN).
STATUS_OF_CODE = {"no_orchestrator": 503, "model_unknown": 400, "model_not_approved": 403, "internal_error": 500}


def status_of(job: Job) -> int:
    code = job.error_code.removeprefix("runner_")
    return int(code) if code.isdigit() else STATUS_OF_CODE.get(code, 500)


def job_state(job: Job, link: Callable[[str], str]) -> dict[str, Any]:
    state: dict[str, Any] = {
        "request_id": str(job.id),
        "status": job.status,
        "pipeline": job.stages[0] if job.stages else "",
        "step": job.step,
        "total_steps": job.total_steps,
        "queue_position": job.queue_position,
        "eta_s": job.eta_s,
    }
    if job.status == JobStatus.SUCCEEDED:
        state["result"] = result_body(job, link)
    elif job.status == JobStatus.FAILED:
        state["error"] = {"status": status_of(job), "msg": job.error_message}
    return state
