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


def labels_of_code(code: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(business lines, categories) one code allows; empty where it does not decide."""
    code = code.strip()
    return (_ITEM.get(code) or _FAMILY.get(code[0], ((), ()))) if code else ((), ())


def labels_from_codes(codes: list[str]) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(business lines, categories) the codes allow; None where no code decides."""
    lines: dict[str, None] = {}
    cats: dict[str, None] = {}
    for code in codes:
        bl, cat = labels_of_code(code)
        lines.update(dict.fromkeys(bl))
        cats.update(dict.fromkeys(cat))
    return (tuple(lines) or None), (tuple(cats) or None)


# 中国汽车质量网's problem areas and types (shared/data/README.md, "Complaints told in full").
_PRODUCT_AREAS = frozenset({"发动机", "车身", "电气设备", "传动系", "附加设备", "制动系", "动力电池及电源管理系统",
                            "转向系", "轮胎和车轮", "悬架系", "电力驱动系统", "气囊和安全带"})
_AREA: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "销售欺诈": (("sales",), ()),
    "服务态度": ((), ("service",)),
    "服务收费": ((), ("service", "other")),
    "人员技术": (("after_sales",), ("repair_quality",)),
}
_AREA_TYPE: dict[tuple[str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("销售欺诈", "过度保养"): (("after_sales",), ("service",)),
    ("服务态度", "否认质量问题"): (("after_sales",), ("service",)),
    ("服务态度", "不予索赔"): (("after_sales",), ("service",)),
    ("承诺不兑现", "服务承诺不兑现"): (("after_sales",), ("service",)),
    ("承诺不兑现", "不履行三包"): (("after_sales",), ("service",)),
    ("承诺不兑现", "销售承诺不兑现"): (("sales",), ("service",)),
    ("承诺不兑现", "未按时交付"): (("sales",), ("service",)),
    ("承诺不兑现", "定（订）金纠纷"): (("sales",), ("service", "other")),
    ("配件争议", "配件质量差"): (("after_sales",), ("product_quality",)),
    ("配件争议", "使用非原厂件"): (("after_sales",), ("repair_quality",)),
    ("配件争议", "未更换定损配件"): (("after_sales",), ("repair_quality",)),
    ("配件争议", "无零配件"): (("after_sales",), ("service", "product_quality")),
    ("配件争议", "未按时到货"): (("after_sales",), ("service",)),
    ("其他原因", "设计缺陷"): (("after_sales",), ("product_quality",)),
    ("其他原因", "厂家不召回"): (("after_sales",), ("product_quality", "service")),
    ("其他原因", "召回方案不合理"): (("after_sales",), ("product_quality", "service")),
    ("其他原因", "服务网点少"): (("after_sales",), ("service",)),
    ("其他原因", "无维修工单"): (("after_sales",), ("service",)),
}


def labels_from_area(area: str, problem_type: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """(business lines, categories) a narrative's problem area and type allow; None where
    they do not decide."""
    area, problem_type = area.strip(), problem_type.strip()
    if area in _PRODUCT_AREAS:
        return ("after_sales",), ("product_quality",)
    bl, cat = _AREA_TYPE.get((area, problem_type)) or _AREA.get(area, ((), ()))
    return (bl or None), (cat or None)
