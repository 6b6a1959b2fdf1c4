"""What every tiny tokenizer is learned from: a few sentences, and the byte-level symbol table."""

from __future__ import annotations

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
