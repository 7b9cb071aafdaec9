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
    "一汽大众朗逸2019款1.5L自动风尚版异响",
    "已经打了12315投诉，4S店不予解决",
    "上汽大众途岳280TSI两驱舒适版国VI",
    "行驶了12000公里发动机烧机油",
])
def test_ordinary_text_is_not_masked(text):
    assert mask_pii(text) == text
