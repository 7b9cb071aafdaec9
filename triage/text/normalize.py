"""Normalise complaint text and keep a map back to the characters the user wrote.

Steps, in order: drop control, zero-width and emoji characters; fold full-width ASCII
to half-width; collapse runs of spaces (newlines are kept, since hotline transcripts use
them between speaker turns); convert Traditional to Simplified Chinese with OpenCC.
Every character of the result remembers the offset of the character it came from, so
evidence found in the normalised text can be shown on the original.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

import opencc

MAX_CHARS = 100_000
"""Longer texts are refused: a complaint, even a long transcript, is far shorter."""

# Anything the slow path must look at: non-ASCII-safe whitespace, controls, full-width
# forms, emoji and symbols, variation selectors and zero-width characters.
_WORK_CHARS = ("\x7f-\x9f\u00a0\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufe00-\ufe0f\ufeff\uff01-\uff5e"
               "\u2190-\u2bff\U0001f000-\U0001faff\U000e0000-\U000e007f")
_NEEDS_WORK = re.compile(f"[\x00-\x1f{_WORK_CHARS}]|[ \t\n]{{2,}}|^\\s|\\s$")
# The same inside the texts of a batch joined by \x00 (no text holds one): the separator is no
# control character to drop, and the ends of each text are looked at one by one.
_JOIN = "\x00"
_NEEDS_WORK_INSIDE = re.compile(f"[\x01-\x1f{_WORK_CHARS}]|[ \t\n]{{2,}}")


# unicodedata categories Cc, Cs and Co (control, surrogate, private use) but \t \n \r, as one
# character class: check_text counts them in every text, and a loop over the characters cost
# a tenth of a prediction (tests/test_normalize.py checks the class against unicodedata).
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff"
                     "\U000f0000-\U000ffffd\U00100000-\U0010fffd]")
# A lone surrogate is not a character: no UTF-8 can hold it, so nothing downstream (OpenCC,
# the database, the output file) can take the text. It comes from text decoded wrongly.
_SURROGATE = re.compile("[\ud800-\udfff]")


class TextError(ValueError):
    """Text that cannot be triaged: empty, too long, or not text at all."""


@dataclass(frozen=True, slots=True)
class NormalizedText:
    original: str
    text: str
    offsets: tuple[int, ...] | None
    """offsets[i] is the index in `original` of text[i]; None when the two are identical."""

    def span_to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map [start, end) of the normalised text to [start, end) of the original."""
        if self.offsets is None:
            return start, end
        if start >= end:
            pos = self.offsets[start] if start < len(self.offsets) else len(self.original)
            return pos, pos
        return self.offsets[start], self.offsets[end - 1] + 1


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _drop(ch: str) -> bool:
    cat = unicodedata.category(ch)
    if cat in ("Cc", "Cf", "Cs", "Co", "Cn"):
        return ch not in "\t\n\r"
    if cat == "So" or (cat == "Sk" and ord(ch) > 0x2000):  # emoji, pictographs, modifiers
        return True
    return cat == "Mn" and ("\ufe00" <= ch <= "\ufe0f" or ord(ch) >= 0xE0100)


def _fold(ch: str) -> str:
    code = ord(ch)
    if 0xFF01 <= code <= 0xFF5E:
        return chr(code - 0xFEE0)
    if ch == "\u3000" or ch == "\u00a0" or 0x2000 <= code <= 0x200A or ch in "\t\r\u202f\u205f":
        return " "
    if ch in "\u2028\u2029\x85":
        return "\n"
    return ch


def check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TextError(f"text must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise TextError(f"text is {len(text):,} characters; the limit is {MAX_CHARS:,}")
    if not text.strip():
        raise TextError("text is empty")
    if "\x00" in text or len(_BINARY.findall(text, 0, 4096)) > 8:
        raise TextError("text looks binary (control characters), not a complaint")
    if (lone := _SURROGATE.search(text)) is not None:
        raise TextError(f"text holds a lone surrogate (U+{ord(lone.group()):04X} at character {lone.start() + 1}), "
                        "which is not Unicode text: was it decoded with the wrong encoding?")
    return text


def normalize_batch(texts: Sequence[str]) -> list[NormalizedText | TextError]:
    """[normalize(t) for t in texts], with the TextError of a text that cannot be read in its
    place. The usual text (nothing to drop, fold or collapse) is converted to Simplified in one
    call for the whole batch: OpenCC's phrases hold no \\x00, so none runs from one text into
    the next; calling it text by text cost more than the conversion."""
    out: list[NormalizedText | TextError] = []
    readable: list[int] = []
    for i, text in enumerate(texts):
        try:
            check_text(text)
        except TextError as exc:
            out.append(exc)
            continue
        out.append(None)  # type: ignore[arg-type]
        readable.append(i)
    batch = [texts[i] for i in readable]
    simplified = _t2s().convert(_JOIN.join(batch)).split(_JOIN)
    if len(simplified) != len(batch):  # not what OpenCC does; but then, text by text
        simplified = [_t2s().convert(t) for t in batch]
    starts = list(accumulate((len(t) + 1 for t in batch[:-1]), initial=0))
    work = [t[0].isspace() or t[-1].isspace() for t in batch]
    for m in _NEEDS_WORK_INSIDE.finditer(_JOIN.join(batch)):
        work[bisect_right(starts, m.start()) - 1] = True
    for i, text, simple, slow in zip(readable, batch, simplified, work):
        out[i] = normalize(text) if slow or len(simple) != len(text) else NormalizedText(text, simple, None)
    return out


def normalize(text: str) -> NormalizedText:
    """Normalise `text`; raises TextError for empty, huge or binary input."""
    check_text(text)
    simplified = _t2s().convert(text)
    if not _NEEDS_WORK.search(text) and len(simplified) == len(text):
        return NormalizedText(text, simplified, None)

    chars: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        if _drop(ch):
            continue
        ch = _fold(ch)
        if ch in " \n" and (not chars or chars[-1] in " \n"):
            if ch == "\n" and chars and chars[-1] == " ":
                chars[-1] = "\n"  # a newline outranks the space before it
            continue
        chars.append(ch)
        offsets.append(i)
    while chars and chars[-1] in " \n":
        chars.pop()
        offsets.pop()
    if not chars:
        raise TextError("text has no readable characters")

    folded = "".join(chars)
    converted = _t2s().convert(folded)
    if len(converted) != len(folded):
        # Phrase conversions can change length; convert char by char to keep the map exact.
        converted = "".join(_t2s().convert(c) for c in folded)
    return NormalizedText(text, converted, tuple(offsets))
