"""What one stage sends to a node: the pipeline, the model, the units it is paid for, and the body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livepeer_ai.payments.receipts import parameters_hash, request_parameters
from livepeer_ai.runner.schemas import PARAMS_BY_PIPELINE


@dataclass
class StageRequest:
    pipeline: str
    model_id: str
    units: int
    steps: int
    json_body: dict[str, Any] | None = None
    form: dict[str, Any] = field(default_factory=dict)
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)

    @property
    def parameters_hash(self) -> str:
        """The hash a node signs for these parameters as they arrive on the wire (payments/receipts.py)."""
        if self.json_body is not None:
            return parameters_hash(request_parameters(json.loads(json.dumps(self.json_body)), {}))
        # Form values go on the wire as strings, booleans in lower case.
        fields = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in self.form.items()}
        return parameters_hash(request_parameters(fields, {name: raw for name, (_, raw, _) in self.files.items()}))


def counts_steps(pipeline: str) -> bool:
    """Whether a stage's latency is divided by its steps as well as its units (`latency_steps`)."""
    params = PARAMS_BY_PIPELINE.get(pipeline)
    return pipeline == "frame-interpolation" or (params is not None and "num_inference_steps" in params.model_fields)


def latency_steps(pipeline: str, fields: dict[str, Any], input_frames: int = 0) -> int:
    """The steps a stage's latency score is divided by (gateway/slots.py): the request's
    num_inference_steps, or the runner's default when it names none, as go-livepeer counts them
    (docs/protocol.md §2.5); for frame interpolation one per pair of neighbouring frames, as the
    runner reports them; 0 for a pipeline that has no steps."""
    if pipeline == "frame-interpolation":
        return max(0, input_frames - 1)
    params = PARAMS_BY_PIPELINE.get(pipeline)
    steps = params.model_fields.get("num_inference_steps") if params is not None else None
    if steps is None:
        return 0
    return int(fields.get("num_inference_steps") or steps.default)
