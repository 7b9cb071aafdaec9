"""From the complaint site's problem codes to the default labels (shared/data/README.md).

A row with several codes gets the union of what they say: any of those labels is right.
"""

from __future__ import annotations

# Families where every item maps the same way.
_FAMILY: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{f: (("after_sales",), ("product_quality",)) for f in "ABCDEFGH"},
    "J": (("after_sales",), ("repair_quality",)),
}

# Single items: (business lines, categories); an empty tuple means "does not decide".
_ITEM: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    **{c: ((), ("service",)) for c in ("I281", "I282", "I293", "I294", "I295")},
    "I292": (("after_sales",), ("service",)),
    "I297": (("after_sales",), ("service",)),
    "K307": ((), ("service", "other")),
    "K308": ((), ("service", "other")),
    "K309": (("sales",), ("service", "other")),
    "K325": (("sales",), ("service", "other")),
    "L313": (("sales",), ("service",)),
    "L314": (("after_sales",), ("service",)),
    **{c: ((), ("service",)) for c in ("L310", "L311", "L312")},
    **{c: (("sales",), ()) for c in ("M279", "M280", "M283", "M284")},
    "N316": (("after_sales",), ("repair_quality",)),
    "N319": (("after_sales",), ("repair_quality",)),
    "N317": (("after_sales",), ("product_quality",)),
    "N318": (("after_sales",), ("service", "product_quality")),
    "O296": ((), ("service",)),
    "O326": (("after_sales",), ("service",)),
    "O348": (("after_sales",), ("product_quality", "service")),
    "O353": (("sales",), ("service",)),
}

REPEAT_CODES = frozenset({"J298"})  # 人员技术/多次返修: the same fault repaired again and again


def labels_from_codes(codes: list[str]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(business lines, categories) the codes allow; None where no code decides."""
    lines: dict[str, None] = {}
    cats: dict[str, None] = {}
    for code in codes:
        code = code.strip()
        if not code:
            continue
        bl, cat = _ITEM.get(code) or _FAMILY.get(code[0], ((), ()))
        lines.update(dict.fromkeys(bl))
        cats.update(dict.fromkeys(cat))
    return (tuple(lines) or None), (tuple(cats) or None)
