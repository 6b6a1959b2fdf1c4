"""What every tiny tokenizer is learned from: a few sentences, and the byte-level symbol table."""

from __future__ import annotations

from collections import Counter

SENTENCES = [
    "a photo of a cat wearing a tiny hat on the moon",
    "an astronaut riding a horse in a field of flowers",
    "a watercolor painting of a lighthouse at sunset",
    "a pixel art gif of a dancing robot",
    "the quick brown fox jumps over the lazy dog",
]


def _bytes_to_unicode() -> dict[int, str]:
    # The GPT-2/CLIP byte→unicode table: printable bytes map to themselves, the
    # rest to code points above 255, so every byte has a visible symbol.
    printable = (
        list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    )
    codes = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
    return dict(zip(printable, [chr(c) for c in codes], strict=True))


def learn_merges(words: list[list[str]], count: int) -> list[tuple[str, str]]:
    """Byte-pair merges learned from `words` (each a list of symbols): the most frequent pair, `count` times."""
    merges: list[tuple[str, str]] = []
    for _ in range(count):
        pairs: Counter[tuple[str, str]] = Counter()
        for word in words:
            pairs.update(zip(word, word[1:], strict=False))
        if not pairs:
            break
        # Ties break on the pair itself so the result never depends on dict order.
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        merges.append(best)
        words = [_merge(word, best) for word in words]
    return merges


def _merge(word: list[str], pair: tuple[str, str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(word):
        if i < len(word) - 1 and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out
