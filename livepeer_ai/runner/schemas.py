"""Request fields, defaults and value checks of the AI runner API (docs/protocol.md §1.2).

Type errors are 422 in FastAPI's shape; values a model cannot take are 400
`{"detail":{"msg":...}}`, as ai-runner answers them.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from livepeer_ai import json_input
from livepeer_ai.pipelines.image_to_image import effective_steps
from livepeer_ai.pipelines.segment_prompts import BadPrompt, SegmentPrompt, check_fits, parse_prompt
from livepeer_ai.pipelines.text_to_image import NO_GUIDANCE_FAMILIES

MAX_STEPS = 150
MAX_IMAGES_PER_PROMPT = 4
MAX_SEED = 2**32 - 1
# name → (low, high, whether low itself is excluded): what check_values allows (else 400),
# and what the gateway's OpenAPI document publishes.
VALUE_RANGES: dict[str, tuple[float, float, bool]] = {
    "guidance_scale": (0.0, 50.0, False),
    "image_guidance_scale": (0.0, 50.0, False),
    "strength": (0.0, 1.0, True),
    "noise_aug_strength": (0.0, 1.0, False),
    "motion_bucket_id": (0, 255, False),
    "fps": (1, 60, False),
    "multiplier": (2, 8, False),
    # llm's sampling: OpenAI's temperature range (0 is greedy); a top_p of 0 would keep no token.
    "temperature": (0.0, 2.0, False),
    "top_p": (0.0, 1.0, True),
}
# LoRAs one text-to-image or image-to-image request may apply (Livepeer's runner allows 4), and
# the weights each may have: far past ±10 an adapter only turns the picture to noise.
MAX_LORAS = 4
MAX_LORA_WEIGHT = 10.0
LORAS_EXAMPLE = '{"nerijs/pixel-art-xl": 1.2}'
# llm: the most tokens one answer may be billed for and generate (docs/protocol.md §2.4).
MAX_LLM_TOKENS = 4096
LLM_ROLES = ("system", "user", "assistant")
# text-to-speech: the longest text one request speaks, in characters: a long paragraph, a minute or
# so of speech. VITS writes the whole waveform in one pass, its memory growing with the text, so the
# bound is a tenth of the 10,000 Livepeer's later runners take (docs/api.md).
MAX_SPEECH_CHARACTERS = 1000
# The speaker description: Livepeer's later runners' bound.
MAX_SPEAKER_DESCRIPTION_CHARACTERS = 1000
# Livepeer's default `description` (its runner API's TextToSpeechParams).
DEFAULT_SPEAKER_DESCRIPTION = (
    "A male speaker delivers a slightly expressive and animated speech with a moderate speed and pitch."
)
# Fields only, never media: a prompt of this size is already far past what any text encoder reads.
MAX_JSON_BYTES = 1024 * 1024
# The smallest input each pipeline runs on: (the shorter side's minimum, the longer side's), in px.
# Found by running the tiny models on ever smaller inputs; each limit comes from code the real
# models share with them (docs/api.md).
MIN_INPUT_SIZE: dict[str, tuple[int, int]] = {
    # The SD image processors round each side down to a multiple of the VAE's scale, 8: below it, 0 px.
    "image-to-image": (8, 8),
    # The same for the x4 upscaler, whose VAE scale is 4.
    "upscale": (4, 4),
    # SVD blurs the image before resizing it for its image encoder, padding each side by reflection,
    # which a 1 px side cannot be.
    "image-to-video": (2, 2),
    # OpenCV's DIS optical flow (medium preset) needs 8 px a side, and 12 px along one of them.
    "frame-interpolation": (8, 12),
}


# segment-anything-2: a video's pixels in all, in images at the model's side limit (check_segment_input).
SEGMENT_VIDEO_MASKS = 3


class BadValue(ValueError):
    """A well-typed value this runner cannot serve (HTTP 400)."""


class RunnerParams(BaseModel):
    # NaN and ±Infinity pass every range check (all comparisons with NaN are false): refused as types.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)

    model_id: str = ""


class TextToImageParams(RunnerParams):
    prompt: str
    loras: str = ""
    height: int = 576
    width: int = 1024
    guidance_scale: float = 7.5
    negative_prompt: str = ""
    safety_check: bool = True
    seed: int | None = None
    num_inference_steps: int = 50
    num_images_per_prompt: int = 1


class ImageToImageParams(RunnerParams):
    prompt: str
    loras: str = ""
    strength: float = 0.8
    guidance_scale: float = 7.5
    image_guidance_scale: float = 1.5
    negative_prompt: str = ""
    safety_check: bool = True
    seed: int | None = None
    num_inference_steps: int = 100
    num_images_per_prompt: int = 1


class ImageToVideoParams(RunnerParams):
    height: int = 576
    width: int = 1024
    fps: int = 6
    motion_bucket_id: int = 127
    noise_aug_strength: float = 0.02
    safety_check: bool = True
    seed: int | None = None
    num_inference_steps: int = 25


class UpscaleParams(RunnerParams):
    prompt: str
    negative_prompt: str = ""
    safety_check: bool = True
    seed: int | None = None
    num_inference_steps: int = 75


class FrameInterpolationParams(RunnerParams):
    """Our addition on the same pattern: `video` in, (n-1)·multiplier+1 frames out."""

    multiplier: int = 2
    fps: int = 12


class ImageToTextParams(RunnerParams):
    prompt: str = ""


class AudioToTextParams(RunnerParams):
    return_timestamps: str = "true"
    # Job information from the gateway (a JSON object as a string); the runner reads none of it.
    metadata: str = "{}"


class LLMMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str


class LLMParams(RunnerParams):
    """OpenAI-style chat (Livepeer's LLMRequest); `seed` is OpenAI's, beyond Livepeer's fields."""

    messages: list[LLMMessage]
    model: str = ""
    temperature: float = 0.7
    max_tokens: int = 256
    top_p: float = 1.0
    top_k: int = -1
    stream: bool = False
    seed: int | None = None

    @model_validator(mode="before")
    @classmethod
    def model_names_the_model(cls, data: Any) -> Any:
        # Livepeer's LLM request names its model `model`, every other pipeline `model_id`:
        # both are read, so the network routes an LLM job like any other.
        if isinstance(data, dict) and data.get("model") and not data.get("model_id"):
            return {**data, "model_id": data["model"]}
        return data


class TextToSpeechParams(RunnerParams):
    """Livepeer's TextToSpeechParams; `seed` is ours, beyond its fields (a voice is drawn with noise)."""

    text: str = ""
    description: str = DEFAULT_SPEAKER_DESCRIPTION
    seed: int | None = None


class SegmentAnything2Params(RunnerParams):
    """Livepeer's form fields; the prompts are JSON arrays as text (pipelines/segment_prompts.py)."""

    point_coords: str | None = None
    point_labels: str | None = None
    box: str | None = None
    mask_input: str | None = None
    multimask_output: bool = True
    return_logits: bool = True
    normalize_coords: bool = True

    def segment_prompt(self) -> SegmentPrompt:
        """The parsed prompt, or BadValue saying what is wrong with it."""
        try:
            return parse_prompt(self.point_coords, self.point_labels, self.box, self.mask_input)
        except BadPrompt as exc:
            raise BadValue(str(exc)) from None


PARAMS_BY_PIPELINE: dict[str, type[RunnerParams]] = {
    "text-to-image": TextToImageParams,
    "image-to-image": ImageToImageParams,
    "image-to-video": ImageToVideoParams,
    "upscale": UpscaleParams,
    "frame-interpolation": FrameInterpolationParams,
    "image-to-text": ImageToTextParams,
    "audio-to-text": AudioToTextParams,
    "llm": LLMParams,
    "text-to-speech": TextToSpeechParams,
    "segment-anything-2": SegmentAnything2Params,
}

# Multipart file fields each pipeline requires (docs/protocol.md §1.1: all but t2i are forms).
FILE_FIELDS: dict[str, str] = {
    "image-to-image": "image",
    "image-to-video": "image",
    "upscale": "image",
    "frame-interpolation": "video",
    "image-to-text": "image",
    "audio-to-text": "audio",
    # An image, as Livepeer's; or, beyond it, a video (GIF, MP4, …) prompted on its first frame.
    "segment-anything-2": "image",
}
# The runner API's return_timestamps values ("true" is "sentence").
TIMESTAMP_VALUES = ("true", "sentence", "word", "false")


class RequestInvalid(Exception):
    """A body that is not even the right shape (HTTP 422 with FastAPI's item list)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


NOT_MULTIPART = [{"loc": ["body"], "msg": "Expected multipart/form-data", "type": "content_type"}]


class BodyTooLarge(ValueError):
    """A body over its size limit (HTTP 413)."""


def json_object(raw: bytes) -> dict[str, Any]:
    """A JSON body that must be an object, or RequestInvalid in the runner API's 422 shape.

    Refused before parsing when over MAX_JSON_BYTES (BodyTooLarge) or nested too deep;
    NaN, Infinity and lone surrogates are refused too: none can be signed, stored or sent on.
    """
    if len(raw) > MAX_JSON_BYTES:
        raise BodyTooLarge(f"A JSON body may be at most {MAX_JSON_BYTES // 1024} KiB; this one is {len(raw)} bytes.")
    try:
        body = json_input.loads(raw)
    except json_input.JsonRefused as exc:
        raise RequestInvalid([{"loc": ["body"], "msg": str(exc), "type": exc.kind}]) from None
    if not isinstance(body, dict):
        raise RequestInvalid([{"loc": ["body"], "msg": "Input should be an object", "type": "dict_type"}])
    return body


def validation_errors(exc: ValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 item shape: loc, msg, type."""
    return [
        {"loc": ["body", *[str(p) for p in err["loc"]]], "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_url=False, include_input=False)
    ]


def missing_field_error(name: str) -> list[dict[str, Any]]:
    return [{"loc": ["body", name], "msg": "Field required", "type": "missing"}]


def check_values(params: RunnerParams, served_model_id: str, max_side: int, family: str = "") -> None:
    """Raise BadValue with a message a person can act on (`family`: the model's, as the registry has it)."""
    if params.model_id and params.model_id != served_model_id:
        raise BadValue(f"This runner serves {served_model_id!r}, not {params.model_id!r}.")
    requested_loras(params)
    prompt = getattr(params, "prompt", None)
    # image-to-text's prompt is optional: it only starts the caption.
    if prompt is not None and not prompt.strip() and not isinstance(params, ImageToTextParams):
        raise BadValue("prompt must not be empty.")
    if isinstance(params, AudioToTextParams):
        _check_audio_params(params)
    if isinstance(params, LLMParams):
        _check_llm_params(params)
    if isinstance(params, TextToSpeechParams):
        _check_speech_params(params)
    if isinstance(params, SegmentAnything2Params):
        params.segment_prompt()
    for side in ("width", "height"):
        value = getattr(params, side, None)
        if value is None:
            continue
        if value <= 0 or value % 8:
            raise BadValue(f"{side} must be a positive multiple of 8, got {value}.")
        if value > max_side:
            raise BadValue(f"{side} {value} is over this model's limit of {max_side}.")
    if isinstance(params, ImageToVideoParams) and params.width * params.height <= 64:
        # 8x8 is one latent pixel, too little for the video model's encoder to normalise over.
        raise BadValue(f"image-to-video needs width x height over 64 px, got {params.width}x{params.height}.")
    steps = getattr(params, "num_inference_steps", None)
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise BadValue(f"num_inference_steps must be between 1 and {MAX_STEPS}, got {steps}.")
    count = getattr(params, "num_images_per_prompt", None)
    if count is not None and not 1 <= count <= MAX_IMAGES_PER_PROMPT:
        raise BadValue(f"num_images_per_prompt must be between 1 and {MAX_IMAGES_PER_PROMPT}, got {count}.")
    seed = getattr(params, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise BadValue(f"seed must be between 0 and {MAX_SEED}, got {seed}.")
    for name, (low, high, low_open) in VALUE_RANGES.items():
        _check_range(params, name, low, high, low_open)
    # Only the last `strength` of the schedule runs (a turbo model's runner raises the steps instead).
    if (
        isinstance(params, ImageToImageParams)
        and family not in NO_GUIDANCE_FAMILIES
        and effective_steps(params.num_inference_steps, params.strength) < 1
    ):
        raise BadValue(
            f"num_inference_steps x strength must be at least 1 (got {params.num_inference_steps} x {params.strength})."
        )


def requested_loras(params: RunnerParams) -> dict[str, float]:
    """The request's `loras` as name → weight ({} for none), or BadValue saying what is wrong with it.

    Livepeer sends them as a JSON object in a string (`{"name": weight}`); an empty string
    or `{}` asks for none. Whether each name is an approved LoRA is the registry's answer
    (the gateway) or the runner's list (the runner), checked after this.
    """
    raw = getattr(params, "loras", "")
    if not raw.strip():
        return {}
    try:
        loras = json_input.loads(raw)
    except json_input.JsonRefused as exc:
        raise BadValue(f"loras must be a JSON object of LoRA names and weights, e.g. {LORAS_EXAMPLE}: {exc}") from None
    if not isinstance(loras, dict):
        raise BadValue(f"loras must be a JSON object of LoRA names and weights, e.g. {LORAS_EXAMPLE}.")
    if len(loras) > MAX_LORAS:
        raise BadValue(f"A request may apply at most {MAX_LORAS} LoRAs; this one names {len(loras)}.")
    weights = {}
    for name, weight in loras.items():
        if not name.strip():
            raise BadValue("A LoRA name in loras is empty.")
        # JSON's true and false are Python ints: refused as weights all the same.
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise BadValue(f"The weight of LoRA {name!r} must be a number, got {json.dumps(weight)}.")
        if not -MAX_LORA_WEIGHT <= weight <= MAX_LORA_WEIGHT:
            raise BadValue(
                f"The weight of LoRA {name!r} must be between {-MAX_LORA_WEIGHT:g} and {MAX_LORA_WEIGHT:g}, got {weight}."
            )
        weights[name] = float(weight)
    return weights


def check_input_size(pipeline: str, size: tuple[int, int], max_side: int) -> None:
    """An uploaded image's (or video's frames') size the model can run on, else BadValue."""
    width, height = size
    shorter, longer = MIN_INPUT_SIZE.get(pipeline, (1, 1))
    if min(size) < shorter or max(size) < longer:
        also = f", and {longer} px along one of them" if longer > shorter else ""
        raise BadValue(f"The input is {width}x{height}; {pipeline} needs at least {shorter} px a side{also}.")
    # Upscale keeps the input size, and segment-anything-2's masks are at the input's size:
    # the model's side limit applies to the input.
    if pipeline in ("upscale", "segment-anything-2") and max(size) > max_side:
        raise BadValue(f"Image is {width}x{height}; this model takes up to {max_side} px a side.")


def check_segment_input(params: SegmentAnything2Params, size: tuple[int, int], frames: int, max_side: int) -> None:
    """What a segment-anything-2 prompt asks of the input it came with (`frames`: 0 for a still image)."""
    check_input_size("segment-anything-2", size, max_side)
    prompt = params.segment_prompt()
    if frames:
        width, height = size
        # A video's masks (one a frame) may hold as many values as an image's three at the side limit.
        if width * height * frames > SEGMENT_VIDEO_MASKS * max_side * max_side:
            raise BadValue(
                f"The video is {frames} frames of {width}x{height}; this model follows an object through at most "
                f"{SEGMENT_VIDEO_MASKS * max_side * max_side:,} pixels in all (fewer frames or smaller ones)."
            )
        if prompt.mask is not None:
            raise BadValue("mask_input is for images; prompt a video's first frame with point_coords or box.")
        if not prompt.has_points_or_box:
            raise BadValue("A video needs a prompt on its first frame: point_coords with point_labels, or box.")
    try:
        check_fits(prompt, size, params.normalize_coords)
    except BadPrompt as exc:
        raise BadValue(str(exc)) from None


def _check_audio_params(params: AudioToTextParams) -> None:
    if params.return_timestamps.lower() not in TIMESTAMP_VALUES:
        raise BadValue(
            f"return_timestamps must be one of {', '.join(TIMESTAMP_VALUES)}; got {params.return_timestamps!r}."
        )
    try:
        metadata = json_input.loads(params.metadata)
    except json_input.JsonRefused:
        metadata = None
    if not isinstance(metadata, dict):
        raise BadValue("metadata must be a JSON object.")


def _check_llm_params(params: LLMParams) -> None:
    if params.model and params.model_id and params.model != params.model_id:
        raise BadValue(f"model {params.model!r} and model_id {params.model_id!r} name different models.")
    if not params.messages:
        raise BadValue("messages must not be empty.")
    for index, message in enumerate(params.messages):
        if message.role not in LLM_ROLES:
            raise BadValue(f"messages[{index}].role must be one of {', '.join(LLM_ROLES)}; got {message.role!r}.")
    if not any(message.content.strip() for message in params.messages):
        raise BadValue("messages must say something: every content is empty.")
    if not 1 <= params.max_tokens <= MAX_LLM_TOKENS:
        raise BadValue(f"max_tokens must be between 1 and {MAX_LLM_TOKENS}, got {params.max_tokens}.")
    if params.top_k != -1 and params.top_k < 1:
        raise BadValue(f"top_k must be -1 (no limit) or at least 1, got {params.top_k}.")


def _check_speech_params(params: TextToSpeechParams) -> None:
    if not params.text.strip():
        raise BadValue("text must not be empty: it is what is spoken.")
    if len(params.text) > MAX_SPEECH_CHARACTERS:
        raise BadValue(f"text is {len(params.text)} characters; one request speaks at most {MAX_SPEECH_CHARACTERS}.")
    if len(params.description) > MAX_SPEAKER_DESCRIPTION_CHARACTERS:
        raise BadValue(
            f"description is {len(params.description)} characters; "
            f"it may be at most {MAX_SPEAKER_DESCRIPTION_CHARACTERS}."
        )


def _check_range(params: RunnerParams, name: str, low: float, high: float, low_open: bool = False) -> None:
    value = getattr(params, name, None)
    if value is None:
        return
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f"greater than {low}" if low_open else f"at least {low}"
        raise BadValue(f"{name} must be {bound} and at most {high}, got {value}.")
