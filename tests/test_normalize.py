"""Normalisation: what changes, what the offset map promises, and what is refused."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from triage.text.normalize import MAX_CHARS, NormalizedText, TextError, normalize, normalize_batch


def test_traditional_fullwidth_emoji_and_spaces():
    n = normalize("  東風日產　天籁刹車失靈😡😡 ！！１２３ＡＢＣ\u200b\n\n客戶：你好 ")
    assert n.text == "东风日产 天籁刹车失灵 !!123ABC\n客户:你好"


def test_plain_text_is_unchanged_and_needs_no_map():
    n = normalize("大众朗逸变速箱异响希望厂家处理")
    assert n.text == n.original and n.offsets is None
    assert n.span_to_original(2, 4) == (2, 4)


def test_span_maps_back_to_what_the_user_wrote():
    original = "客戶說：行駛中　刹車失靈，差點追尾😱"
    n = normalize(original)
    start = n.text.index("刹车失灵")
    a, b = n.span_to_original(start, start + 4)
    assert original[a:b] == "刹車失靈"


@pytest.mark.parametrize("bad", ["", "   \n\t ", "\u3000\u3000", "😡😡😡"])
def test_empty_text_is_refused(bad):
    with pytest.raises(TextError):
        normalize(bad)


def test_huge_and_binary_text_is_refused():
    with pytest.raises(TextError, match="limit"):
        normalize("异" * (MAX_CHARS + 1))
    with pytest.raises(TextError, match="binary"):
        normalize("abc\x00\x01\x02def")
    with pytest.raises(TextError):
        normalize(b"bytes".decode() + "\x01" * 20)


def test_a_lone_surrogate_is_refused_not_passed_on():
    """One is under the binary check's count, and OpenCC (and any UTF-8 output) cannot take it."""
    with pytest.raises(TextError, match="lone surrogate"):
        normalize("刹车\ud800失灵")
    assert normalize_batch(["刹车失灵", "刹车\udfff失灵"])[1].args[0].startswith("text holds a lone surrogate")
    assert normalize("刹车失灵😡").text.startswith("刹车失灵")  # a character outside the BMP is no surrogate


def _check_offsets(s: str) -> NormalizedText:
    n = normalize(s)
    assert n.offsets is not None and len(n.offsets) == len(n.text), (s, n)
    assert [o for o in n.offsets if not 0 <= o < len(s)] == []
    assert list(n.offsets) == sorted(set(n.offsets))
    assert [i for i, ch in enumerate(n.text) if ch not in " \n" and s[n.offsets[i]] in " \t\n\r\u3000"] == []
    return n


@pytest.mark.parametrize(("s", "text"), [("刹车  失灵\u3000 ", "刹车 失灵"), (" 发动机\n\n异响 ", "发动机\n异响"),
                                         ("ＡＢＳ  失效", "ABS 失效")])
def test_offsets_of_a_text_the_normaliser_shortens_point_at_its_source_characters(s, text):
    # Texts that are sure to move characters, so the offsets are checked whatever hypothesis draws.
    n = _check_offsets(s)
    assert n.text == text and len(n.text) < len(s)


@given(st.text(min_size=1, max_size=200))
def test_offsets_are_increasing_and_point_at_source_characters(s):
    try:
        n = normalize(s)
    except TextError as exc:
        # Text of at most 200 characters with no lone surrogate is refused for these reasons only.
        assert str(exc) in ("text is empty", "text looks binary (control characters), not a complaint",
                            "text has no readable characters"), (s, exc)
    else:
        if n.offsets is None:  # nothing moved: each character is where its source is
            assert len(n.text) == len(s), (s, n)
        else:
            _check_offsets(s)


def test_binary_check_counts_control_surrogate_and_private_use_characters():
    """check_text's character class is unicodedata's categories Cc, Cs and Co less \\t \\n \\r."""
    import unicodedata

    from triage.text.normalize import _BINARY

    for code in range(0x110000):
        c = chr(code)
        expected = unicodedata.category(c) in ("Cc", "Cs", "Co") and c not in "\t\n\r"
        assert bool(_BINARY.match(c)) == expected, hex(code)
