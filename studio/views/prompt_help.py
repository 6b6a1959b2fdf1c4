"""'Improve my prompt': the network's llm rewrites a member's prompt, streamed into the field as it is written.

The request is an llm job like any other (queued, placed, paid, receipted), asked
with `stream: true`; the answer is the public API's own chunk stream
(gateway/api.chat_stream: OpenAI `chat.completion.chunk`s, then `[DONE]`), which
static/studio/improve_prompt.js writes into the prompt field as it arrives.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, JsonResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.views.decorators.http import require_POST

from livepeer_ai.gateway import payment, queue
from livepeer_ai.gateway.api import chat_stream
from livepeer_ai.gateway.models import Job
from livepeer_ai.gateway.workflow import create_api_job
from livepeer_ai.registry.curation import ModelNotRoutable, routable_model
from livepeer_ai.runner.schemas import PARAMS_BY_PIPELINE
from studio.ratelimits import rate_limited

# What the model is asked to do; the member's prompt is the user's turn.
INSTRUCTION = (
    "Rewrite the user's idea as one prompt for an image-and-video generator: a concrete subject, setting, "
    "light, style and motion, under 60 words. Answer with the prompt only."
)
MAX_TOKENS = 96
MAX_PROMPT_CHARS = 500


def refused(status: int, message: str) -> JsonResponse:
    return JsonResponse({"detail": {"msg": message}}, status=status)


@login_required
@require_POST
@rate_limited("studio-improve-prompt", "STUDIO_IMPROVE_PROMPT_RATE")
def improve_prompt(request: HttpRequest) -> HttpResponseBase:
    prompt = " ".join(request.POST.get("prompt", "").split())
    if not prompt:
        return refused(400, "Type an idea first: the prompt is empty.")
    if len(prompt) > MAX_PROMPT_CHARS:
        return refused(400, f"Keep the idea under {MAX_PROMPT_CHARS} characters.")
    model_id = settings.DEFAULT_MODELS.get("llm", "")
    try:
        routable_model("llm", model_id)
    except ModelNotRoutable as exc:
        return refused(503, f"Prompt help is off: {exc.message}")
    nobody = queue.unsold("llm", model_id)
    if nobody:
        return refused(503, f"Prompt help is off: {nobody}")
    unpayable = payment.unpayable("llm", model_id, MAX_TOKENS)
    if unpayable:
        return refused(503, f"Prompt help is off: {unpayable}")
    fields = {
        "messages": [{"role": "system", "content": INSTRUCTION}, {"role": "user", "content": prompt}],
        "max_tokens": MAX_TOKENS,
        "temperature": 0.7,
        "stream": True,
        "model_id": model_id,
    }
    # Checked as the API checks an llm request (a rule change there cannot make this one invalid unseen).
    params = PARAMS_BY_PIPELINE["llm"].model_validate(fields)
    job = create_api_job("llm", params.model_dump(exclude_none=True, include=set(fields)), None, None)
    # Who asked (the job has no API key): the member, for the books and the admin.
    Job.objects.filter(id=job.id).update(owner_id=request.user.pk)
    response = StreamingHttpResponse(chat_stream(job), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    return response
