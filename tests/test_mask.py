"""Personal data is masked in logs and exports; ordinary complaint text is left alone."""

import pytest

from triage.text.mask import find_pii, mask_pii


@pytest.mark.parametrize(("text", "secret", "kind"), [
    ("我的电话13912345678请回电", "13912345678", "mobile"),
    ("手机 139 1234 5678", "139 1234 5678", "mobile"),
    ("座机0931-8812345", "0931-8812345", "landline"),
    ("车牌甘A·12345停在店里", "甘A·12345", "plate"),
    ("新能源车牌粤B12345D", "粤B12345D", "plate"),
    ("车架号LSVAB2180E2123456", "LSVAB2180E2123456", "vin"),
    ("身份证110101199003071234", "110101199003071234", "id_number"),
    ("邮箱 wang.li@163.com", "wang.li@163.com", "email"),
])
def test_each_kind_is_found_and_masked(text, secret, kind):
    assert [s.kind for s in find_pii(text)] == [kind]
    masked = mask_pii(text)
    assert secret not in masked
    assert len(masked) == len(text)  # evidence offsets hold on the masked text


def test_names_after_surname_markers():
    assert mask_pii("我姓王，王先生和李女士都来了") == "我姓*，*先生和*女士都来了"
    assert mask_pii("那位先生说这个女士没来") == "那位先生说这个女士没来"


@pytest.mark.parametrize("text", [
    "刹车总泵漏油", "转向总成失灵", "开关总成失效", "走烂路总是异响", "此时总公里数", "市场监管总局", "电池包总成",
    "新车总共到店三次", "问修车师傅为什么", "雪佛兰经理不接电话", "车主安全，不负责任", "换刹车总成，",
])
def test_a_word_before_a_title_like_compound_is_no_name(text):
    """Real complaints of ../shared/data where a surname character ends a word (刹车, 转向, 开关)."""
    assert mask_pii(text) == text


@pytest.mark.parametrize(("text", "masked"), [
    ("店里郭经理说", "店里*经理说"), ("邀请魏总体验", "邀请*总体验"), ("S店赵女士电话", "S店*女士电话"),
    ("找了王总经理", "找了*总经理"), ("车主刘倩倩，购买", "车主***，购买"), ("李师傅说", "*师傅说"),
    ("王总监", "*总监"),
])
def test_names_before_a_title_are_still_masked(text, masked):
    assert mask_pii(text) == masked


@pytest.mark.parametrize("text", [
    "一汽大众朗逸2019款1.5L自动风尚版异响",
    "已经打了12315投诉，4S店不予解决",
    "上汽大众途岳280TSI两驱舒适版国VI",
    "行驶了12000公里发动机烧机油",
])
def test_ordinary_text_is_not_masked(text):
    assert mask_pii(text) == text


def test_personal_data_in_a_snippet_is_named_by_its_kind():
    from triage.text.mask import name_pii

    text = "我姓王，车牌粤B12345，电话13912345678，车架号LSVAB2180E2123456，刹车失灵"
    spans = find_pii(text)
    assert name_pii(text, spans) == "我姓[姓名]，车牌[车牌]，电话[电话]，车架号[车架号]，刹车失灵"
    plate = text.index("粤B")
    assert name_pii(text, spans, plate + 2, plate + 7) == "[车牌]"  # the 12345 of the plate
    assert name_pii(text, spans, plate - 2, plate + 4) == "车牌[车牌]"
    assert name_pii(text, spans, len(text) - 4, len(text)) == "刹车失灵"


def test_evidence_over_personal_data_says_what_kind_it_was_and_keeps_its_offsets():
    """A cue inside a plate showed as ***** and hid from the reviewer what fired."""
    from api.web.present import highlight
    from triage.classify.base import to_evidence
    from triage.classify.cues import Cue
    from triage.text.normalize import normalize

    original = "客戶：車牌粵B12345，電話13912345678，剎車失靈"
    nt = normalize(original)
    digits = nt.text.index("12345")
    cues = [Cue("government", "hotline", digits, digits + 5), Cue("safety", "brakes", len(nt.text) - 4, len(nt.text))]
    found = to_evidence(nt, {}, ["government", "safety"], cues, {h: () for h in ("business_line", "category",
                                                                                  "severity")})
    plate, brakes = found
    assert (plate.text, original[plate.start:plate.end]) == ("[车牌]", "12345")
    assert (brakes.text, original[brakes.start:brakes.end]) == ("剎車失靈", "剎車失靈")
    pieces = highlight(mask_pii(original), [{"head": e.head, "label": e.label, "start": e.start, "end": e.end}
                                            for e in found])
    assert [(p.text, p.why) for p in pieces if p.why] == [("*****", "政府"), ("剎車失靈", "人身安全")]
    assert "".join(p.text for p in pieces) == mask_pii(original)


@pytest.mark.parametrize(("text", "secret"), [
    ("車牌粵B12345停在店里", "B12345"), ("车牌粤Ｂ１２３４５", "１２３４５"),
    ("手机１３９１２３４５６７８", "１２３４５６"), ("邮箱ａｂｃ＠163.com", "ａｂｃ"),
])
def test_traditional_and_full_width_data_is_found_as_written(text, secret):
    masked = mask_pii(text)
    assert secret not in masked and len(masked) == len(text)
