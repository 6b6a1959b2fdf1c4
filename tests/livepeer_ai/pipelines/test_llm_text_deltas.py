"""A streamed llm answer's text deltas: whole characters only, adding up to the decoded answer."""

from __future__ import annotations

import pytest
import torch

from livepeer_ai.pipelines.base import CancelToken, JobCanceled
from livepeer_ai.pipelines.llm import TokenWatcher
from livepeer_ai.pipelines.tiny_text import llama_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return llama_tokenizer()


def watch(tokenizer, ids, cancel=None):
    deltas: list[str] = []
    steps: list[tuple[int, int]] = []
    watcher = TokenWatcher(
        tokenizer, len(ids), lambda s, t: steps.append((s, t)), deltas.append, cancel or CancelToken()
    )
    watcher.put(torch.tensor([[1, 2, 3]]))  # the prompt, which generate() hands over first
    for token in ids:
        watcher.put(torch.tensor([token]))
    watcher.end()
    return deltas, steps


def test_multibyte_characters_split_across_tokens_arrive_whole(tokenizer):
    text = "café ☕ on the moon"
    ids = tokenizer.encode(text, add_special_tokens=False)
    # The byte-level vocabulary splits é and ☕ into several tokens each.
    assert len(ids) > len(text.split())
    deltas, steps = watch(tokenizer, ids)
    assert "".join(deltas) == tokenizer.decode(ids) == text
    assert not any("\ufffd" in delta for delta in deltas)
    assert steps == [(n, len(ids)) for n in range(1, len(ids) + 1)]


def test_a_canceled_job_stops_at_its_next_token(tokenizer):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(JobCanceled):
        watch(tokenizer, tokenizer.encode("a cat", add_special_tokens=False), cancel)
