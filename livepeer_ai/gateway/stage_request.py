"""What one stage sends to a node: the pipeline, the model, the units it is paid for, and the body."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from livepeer_ai.payments.receipts import parameters_hash, request_parameters


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
