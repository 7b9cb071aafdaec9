"""Find and mask personal data: phone numbers, plates, VINs, ID numbers, e-mail, names.

Used on anything that is logged or exported (rules.md §1: 004 第四章 3, 000 §6.1).
Masking keeps the shape (length and a few edge characters) so a reader can still tell
what kind of datum stood there.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
# Common single-character surnames; limiting names to these keeps 那位先生 or 这个女士 unmasked.
_SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
    "屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧"
    "闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝"
)

# A surname before a title (王总, 李师傅) but not a word's last character before a compound that
# starts like a title: 刹车总泵, 转向总成, 开关总成, 时总是, 市场监管总局, 修车师傅, 雪佛兰经理 (on
# the real complaints of ../shared/data these were 20 of the 30 names found). 车 is left out:
# in a car complaint it is the car, not 车先生.
_TITLED_SURNAMES = _SURNAMES.replace("车", "")
_NOT_A_TITLE = "[泵成程是共部店局公里线计数额结价台算之]"

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")),
    ("id_number", re.compile(r"(?<![0-9A-Za-z])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])\d{2}\d{3}[\dXx](?![0-9A-Za-z])")),
    ("vin", re.compile(r"(?<![0-9A-Za-z])(?=[A-HJ-NPR-Z0-9]*\d)(?=[A-HJ-NPR-Z0-9]*[A-HJ-NPR-Z])[A-HJ-NPR-Z0-9]{17}(?![0-9A-Za-z])", re.I)),
    ("mobile", re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)")),
    ("landline", re.compile(r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)")),
    ("plate", re.compile(rf"[{_PROVINCES}][A-Z][·•・.\- ]?[A-HJ-NP-Z0-9]{{4,5}}[A-HJ-NP-Z0-9挂学警港澳](?![0-9A-Za-z])", re.I)),
    ("name", re.compile(rf"(?:(?<=姓)|(?<=我叫)|(?<=名叫)|(?<=车主))(?!安全|权益)[{_SURNAMES}][\u4e00-\u9fa5]{{0,2}}"
                        rf"(?=[,，。.、 ]|先生|女士|小姐|$)"
                        rf"|(?<!雪佛)[{_TITLED_SURNAMES}](?=先生|女士|小姐|师傅|经理|总(?!{_NOT_A_TITLE}))")),
]


@dataclass(frozen=True, slots=True)
class PiiSpan:
    kind: str
    start: int
    end: int


# Every pattern needs one of these; most complaints have none, and skip the seven searches.
_MAYBE = re.compile(rf"\d{{4}}|@|[{_PROVINCES}][A-Za-z]|姓|我叫|名叫|车主|[{_SURNAMES}](?:先生|女士|小姐|师傅|总|经理)")


# Folded one character for one, so that spans found in the folded text hold for the text as
# written: full-width letters and digits (粤Ｂ１２３４５) and Traditional provinces (粵B12345).
# Full-width punctuation, in every Chinese text, is left alone: no pattern needs it folded.
_FULL_WIDTH = "０-９Ａ-Ｚａ-ｚ＠"
_FOLD = {**{c: c - 0xFEE0 for c in (*range(0xFF10, 0xFF1A), *range(0xFF20, 0xFF3B), *range(0xFF41, 0xFF5B))},
         **{ord(t): ord(s) for t, s in zip("滬遼閩貴蘇贛魯陝寧瓊晉雲粵", "沪辽闽贵苏赣鲁陕宁琼晋云粤")}}
_NEEDS_FOLD = re.compile(f"[{_FULL_WIDTH}滬遼閩貴蘇贛魯陝寧瓊晉雲粵]")


def find_pii(text: str) -> list[PiiSpan]:
    """Non-overlapping spans of personal data, earliest and longest first."""
    if _NEEDS_FOLD.search(text):
        text = text.translate(_FOLD)
    if not _MAYBE.search(text):
        return []
    found: list[PiiSpan] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(text):
            found.append(PiiSpan(kind, m.start(), m.end()))
    found.sort(key=lambda s: (s.start, -(s.end - s.start)))
    kept: list[PiiSpan] = []
    for span in found:
        if not kept or span.start >= kept[-1].end:
            kept.append(span)
    return kept


def may_hold_pii(texts: Sequence[str]) -> list[bool]:
    """For each text, False when find_pii is sure to find nothing in it: one search of the
    batch joined instead of two per text (no match of _MAYBE holds the separator \\x00, so
    none runs from one text into the next)."""
    joined = "\x00".join(texts)
    if _NEEDS_FOLD.search(joined):
        joined = joined.translate(_FOLD)  # one character for one: the offsets hold
    starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
    maybe = [False] * len(texts)
    for m in _MAYBE.finditer(joined):
        maybe[bisect_right(starts, m.start()) - 1] = True
    return maybe


KIND_NAMES = {"email": "邮箱", "id_number": "身份证号", "vin": "车架号", "mobile": "电话", "landline": "电话",
              "plate": "车牌", "name": "姓名"}
"""What each kind of personal datum is called where the datum itself may not be shown."""


def name_pii(text: str, spans: Sequence[PiiSpan], start: int = 0, end: int | None = None) -> str:
    """text[start:end] with every personal datum in it (spans of find_pii(text)) replaced by
    the name of its kind in brackets: 车牌粤B12345 reads 车牌[车牌]. The reader learns what kind
    of datum stood there, and nothing of the datum; the result is not of the same length."""
    end = len(text) if end is None else end
    out: list[str] = []
    pos = start
    for s in spans:
        if s.end <= start or s.start >= end:
            continue
        out.append(text[pos:max(pos, s.start)])
        out.append(f"[{KIND_NAMES.get(s.kind, s.kind)}]")
        pos = min(s.end, end)
    out.append(text[pos:end])
    return "".join(out)


def _mask_one(kind: str, value: str) -> str:
    if kind == "name":
        return "*" * len(value)
    if kind == "email":
        at = value.translate(_FOLD).index("@")  # the pattern matched it, maybe as a full-width ＠
        return value[:1] + "*" * (at - 1) + value[at:]
    if kind in ("mobile", "landline"):
        digits = [i for i, c in enumerate(value) if c.isdigit()]
        keep = set(digits[:3] + digits[-2:]) if len(digits) > 6 else set()
        return "".join(c if i in keep or not c.isdigit() else "*" for i, c in enumerate(value))
    if kind == "plate":
        return value[:2] + "*" * (len(value) - 2)
    # vin, id_number: keep the first and the last characters only.
    return value[:1] + "*" * (len(value) - 2) + value[-1:]


def mask_value(value: str, keep: int = 1) -> str:
    """A field that is personal data as a whole (a name, a plate): masked by its own pattern
    when one matches, else all but its first `keep` characters."""
    masked = mask_pii(value)
    return masked if masked != value else value[:keep] + "*" * max(0, len(value) - keep)


def mask_pii(text: str) -> str:
    """`text` with every personal datum masked, character for character: the masked text
    has the same length, so offsets into the text (evidence spans) hold for it too."""
    spans = find_pii(text)
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for s in spans:
        out.append(text[pos:s.start])
        out.append(_mask_one(s.kind, text[s.start:s.end]))
        pos = s.end
    out.append(text[pos:])
    return "".join(out)
