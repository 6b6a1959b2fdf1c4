"""Chat completion with a causal language model through transformers (Llama 3.1 Instruct and kin).

Messages are laid out by the tokenizer's own chat template; tokens are sampled one at a
time, each a progress step (of `max_tokens`) and, for a streamed answer, a text delta.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from livepeer_ai.pipelines.base import CancelToken, InvalidParameters, ModelSpec, ProgressCallback
from livepeer_ai.pipelines.device import pick_device

# Called with each new piece of the answer's text, in order.
TextCallback = Callable[[str], None]


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (the model ended its turn) or "length" (max_tokens reached)


class TokenWatcher:
    """transformers' streamer interface: sees each generated token as it is chosen.

    Counts them as progress, stops the job at the next token once canceled, and hands
    out text deltas that end on a whole character (a multi-byte character's first
    tokens decode to U+FFFD until its last one arrives).
    """

    def __init__(
        self,
        tokenizer: Any,
        max_tokens: int,
        on_progress: ProgressCallback,
        on_text: TextCallback | None,
        cancel: CancelToken,
    ) -> None:
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.on_progress = on_progress
        self.on_text = on_text
        self.cancel = cancel
        self.ids: list[int] = []
        self.sent = ""
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if not self.prompt_seen:
            # generate() hands the prompt to the streamer first.
            self.prompt_seen = True
            return
        self.cancel.raise_if_canceled()
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        self.on_progress(len(self.ids), self.max_tokens)
        self._send_text(final=False)

    def end(self) -> None:
        self._send_text(final=True)

    def _send_text(self, final: bool) -> None:
        if self.on_text is None:
            return
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd") and not final:
            return
        if text.startswith(self.sent) and len(text) > len(self.sent):
            self.on_text(text[len(self.sent) :])
            self.sent = text


class LLM:
    pipeline = "llm"

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.device, self.dtype = pick_device(device)
        self.torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(spec.local_path, local_files_only=True)
        if not self.tokenizer.chat_template:
            raise ValueError(f"{spec.model_id} has no chat template: it is not a chat model.")
        self.model = AutoModelForCausalLM.from_pretrained(spec.local_path, local_files_only=True, dtype=self.dtype).to(
            self.device
        )
        self.model.eval()
        self.context_tokens = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        # The model's own stop tokens (Llama 3.1 Instruct lists <|eot_id|> and more).
        self.stop_ids = _ids(self.model.generation_config.eos_token_id) or _ids(self.tokenizer.eos_token_id)
        # generate() reads the global RNG: one job at a time holds it from seeding to the end.
        self._seeded = threading.Lock()

    def __call__(
        self,
        *,
        messages: list[dict[str, str]],
        temperature: float,
        max_tokens: int,
        top_p: float,
        top_k: int,
        seed: int,
        on_progress: ProgressCallback,
        cancel: CancelToken,
        on_text: TextCallback | None = None,
    ) -> Completion:
        cancel.raise_if_canceled()
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        ).to(self.device)
        prompt_tokens = int(inputs["input_ids"].shape[1])
        if self.context_tokens and prompt_tokens + max_tokens > self.context_tokens:
            raise InvalidParameters(
                f"The messages are {prompt_tokens} tokens; with max_tokens {max_tokens} that is over "
                f"this model's context of {self.context_tokens} tokens."
            )
        watcher = TokenWatcher(self.tokenizer, max_tokens, on_progress, on_text, cancel)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            # Livepeer's (vLLM's) top_k of -1 means no limit; transformers says that with 0.
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": max(top_k, 0)}
        with self._seeded, self.torch.inference_mode():
            self.torch.manual_seed(seed)
            output = self.model.generate(
                **inputs,
                max_new_tokens=max_tokens,
                min_new_tokens=0,
                eos_token_id=self.stop_ids,
                pad_token_id=self.tokenizer.pad_token_id or self.stop_ids[0],
                streamer=watcher,
                **sampling,
            )
        generated = [int(i) for i in output[0][prompt_tokens:].tolist()]
        stopped = bool(generated) and generated[-1] in self.stop_ids
        return Completion(
            text=str(self.tokenizer.decode(generated, skip_special_tokens=True)),
            prompt_tokens=prompt_tokens,
            completion_tokens=len(generated),
            finish_reason="stop" if stopped else "length",
        )


def _ids(value: int | list[int] | None) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)
