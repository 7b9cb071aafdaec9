"""The flags in context (issue 12): who did what, in which clause, in a complaint told in full.

Every sentence here is constructed after a pattern seen in the real narratives of
../shared/data (complaints_aqsiq_2024-01_03.csv); none is copied from a gold set.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from triage.classify.cues import find_cues
from triage.text.normalize import normalize

# The repository's copy of the real one-liners (training/data/real), so that a fresh clone runs it.
ONE_LINERS = Path(__file__).resolve().parent.parent / "training/data/real/complaints_12365auto_2020-06_12.csv"


def flags(text: str) -> set[str]:
    return {c.flag for c in find_cues(normalize(text).text)}


# ---- legal: only the customer involving or threatening police, courts or lawyers ----------

@pytest.mark.parametrize("text", [
    "协商无果，我无奈报警",
    "协商无果，车主当场报警",
    "4S店拒不退还定金，我们选择了报警",
    "如果厂家再推诿，我将用法律维护自己的权益",
    "再不解决就拿起法律武器",
    "我已经报案了，派出所受理了",
    "争执不下，双方报警",
])
def test_legal_fires_when_the_customer_goes_to_police_or_court(text):
    assert "legal" in flags(text)


@pytest.mark.parametrize("text", [
    "行驶中发动机故障灯亮，过了质保就报警",
    "烧机油严重，平均1000公里就要报警一次",
    "在这种情况下，发动机还是报警了，去4S店说机油压力不够",
    "高速上被追尾，交警定责对方全责，车送到4S店维修",
    "事故发生后我本人报交警队和保险公司，车辆被拖到4S店",
    "车停在小区被人划了，去派出所做了报案登记，保险公司要求的",
    "4S店扬言要起诉我",
    "店长态度很差，还说我敲诈要报警",
    "销售说你可以去法院起诉我们，我们不怕",
    "4S店也承认是发动机质量问题，我的诉讼请求是更换发动机总成",
    "10月做保养时又反映了上诉问题，还是没修好",
    "最后到佛山市监局立案调查",
    "我可以为我说的话负法律责任",
    "我被经销商起诉了，说我违约",
])
def test_legal_does_not_fire_on_warning_lights_accident_records_or_the_dealer(text):
    assert "legal" not in flags(text)


# ---- media: journalists, exposure, posting ------------------------------------------------

@pytest.mark.parametrize("text", [
    "不解决我就去论坛发帖",
    "我会去网上维权，让大家都看看",
    "再拖下去准备上热搜",
    # Told in full or on the phone (issue 12: the letters and transcripts the hotline sends).
    "我已经把视频发到了抖音和懂车帝",
    "维修单的照片我发了微博，还@了你们官方账号",
    "本地晚报的记者已经联系了我，下周来店里采访",
    "材料我已经提供给了市电视台的维权栏目",
    "不给说法我就开直播，让全网的人都看看",
    "剪好的视频明天就发出去",
    "我也跟本地的电视台说了这件事",
    "我把他玩手机的照片发朋友圈了",
    "我在车友群和头条上发了，图片都有",
    "客户扬言要发微博曝光门店",
    "我已经联系了一直在做汽车维权报道的记者",  # 报道的 names the journalist, not news read
])
def test_media_fires_on_posting_and_exposure(text):
    assert "media" in flags(text)


@pytest.mark.parametrize("text", [
    "我在315晚会和媒体报道中得知此款变速箱有缺陷",
    "近期看到网上多家媒体曝出仪表台开裂问题",
    "后来央视曝光了斯柯达的异味问题，厂家才召回",
    "厂家说是4S店的事，4S店说车不是他们生产的，可以找媒体曝光",
    "手机摄像头被大灯照的曝光了，根本拍不到",
    "本人在提车前就看到网上发布新款的消息",
    "WEY VV7车机媒体格式不兼容地图无法更新",
    "天天在媒体标榜不降价，转头就降两万",
    "通过车机换个频道就黑屏",
    "在直播间下单买的车，到店又要加价",
    "看到新闻里记者采访了几个车主，说的就是这个问题",
    "网上有人发到论坛说是通病",
    "销售扬言要发微博曝光我",
])
def test_media_does_not_fire_on_news_read_photos_or_the_dealer(text):
    assert "media" not in flags(text)


# ---- government: any regulator or government hotline, taken or threatened -----------------

@pytest.mark.parametrize("text", [
    "厂家和4S店都不管，请相关部门介入处理",
    "望有关部门核实处理！",
    "希望职能部门能帮我声张正义",
    "本人已向佛山市监局投诉",
    "打了市长热线也没人管",
    "已向缺陷产品管理中心反映了这个问题",
    "再不处理我就去上访",
    "已经向消费者权益保护委员会投诉",
    "准备去工商所投诉",
])
def test_government_fires_on_any_regulator_or_hotline(text):
    assert "government" in flags(text)


@pytest.mark.parametrize("text", [
    "销售看到有补贴，表示必须把政府补贴分他们一半",
    "根据市场监管总局公布的《家用汽车产品修理更换退货责任规定》，已达到换车标准",
    "厂家向国家市场监督管理总局备案了召回计划",
    "在315这个特殊的日子，遇到了仪表盘黑屏",
    "315消费者权益日要求更换车辆",
    "4S店说你去12315投诉吧，我们不怕",
])
def test_government_does_not_fire_on_subsidies_citations_dates_or_the_dealer(text):
    assert "government" not in flags(text)


# ---- extreme: the customer's threats, violence, blocking, banners, self-harm ---------------

@pytest.mark.parametrize("text", [
    "再不退车就去堵4S店大门",
    "逼急了我跟他们拼了",
    "不给退车我就把车横在4S店大门口",
    "你告诉那个经理，让他下班路上小心点",
    "别让我在店里碰见他",
    "今天不给说法，谁也别想从车间出去",
    "客户扬言要来店里拉横幅",
    "我刚才把前挡风玻璃给砸了",
    "我多问了两句，销售经理就动手推我",
    "再不解决我就从楼顶跳下去",
    "我明天就坐在你们前台，一直坐到修好为止",
    "我跟你们经理说了，今天不给我退车我就住在这儿了",  # the customer speaking to the manager, not the manager
])
def test_extreme_fires_on_blocking_and_threats(text):
    assert "extreme" in flags(text)


@pytest.mark.parametrize("text", [
    "别克英朗高速方向盘卡顿威胁驾驶安全",
    "经销商威胁客户撤销投诉才给修车",
    "车辆玻璃被砸烂，哨兵模式没有任何提示",
    "汽车在行驶中突然加油不走了",
    "颗粒捕捉器堵住了，油耗增高",
    "别克凯越变速箱拥堵路段换挡时顿挫严重",
    "按手册自己动手更换了空调滤芯",
    "跳楼价清库存，刚买就降两万",
    "是不是过保的车你们给砸了都不用管啊",
    "我坐在休息区等了三个小时也没人管",
    "车停在店门口两天没人修",
    "电量从百分之八十一下跳下去到二十",
    "车在店里躺了一个月，车躺在店里没人管",
    "我就坐在店里等结果，等了一下午",
    "4S店不让任何人进车间看车",
    "店里揪住这个小问题不放，不给保修",
    "引擎盖上的红漆起泡脱落",
    "我家就住在这里，离店不远",
])
def test_extreme_does_not_fire_on_hazards_vandalism_or_idioms(text):
    assert "extreme" not in flags(text)


# ---- repeat: a history of repairs or complaints ------------------------------------------

@pytest.mark.parametrize("text", [
    "11月更换变速箱总成，更换后一个月又出现同样问题",
    "后来方向机异响问题又出现",
    "处理后半个月已经又开始生锈",
    "多次到4S店维修处理，不能彻底根治",
    "多次前往4S店，至今车机问题仍未得到解决",
    "去了两次维保中心，未给出处理方案",
    "已经多次400投诉上汽大众，问题仍得不到解决",
    "多次与厂家及4S店联系，均没有答复",
    "三个月了，投诉几十次了，也没有结果",
    "2023年起与400热线和该店沟通10余次",
    "期间更换过2次高压泵，目前仍然启动困难",
    "这已经不是第一次了",
    "再次送修后还是一样",
    "轮毂氧化索赔更换，现重复出现氧化",
    "没过一个星期又去4S店检测",
])
def test_repeat_fires_on_a_history_of_repairs_or_complaints(text):
    assert "repeat" in flags(text)


@pytest.mark.parametrize("text", [
    "车辆故障至今未解决",
    "4S店说这个问题修不好",
    "第二次保养时发现机油少了",
    "这是我第二次感受到什么叫店大欺客",
    "维修后还是没有解决",
    "投诉后一直没有解决",
    "车机黑屏这个问题一直没有解决",
])
def test_repeat_does_not_fire_on_one_unresolved_repair(text):
    assert "repeat" not in flags(text)


# ---- evidence on a long text points at the clause that decided it -------------------------

def test_evidence_points_at_the_customers_clause_not_the_dealers():
    text = ("2023年8月购车，行驶一万公里后变速箱顿挫，4S店说车不是他们生产的，可以找媒体曝光，"
            "厂家客服也一直推诿。我已经等了三个月，如果下周还不给解决，我就联系电视台和记者曝光这件事。")
    nt = normalize(text).text
    media = [c for c in find_cues(nt) if c.flag == "media"]
    decisive = nt.index("我就联系电视台")
    assert media and all(c.start >= decisive for c in media), [nt[c.start:c.end] for c in media]
    for c in media:
        clause = nt[c.clause_start:c.clause_end]
        assert clause == "我就联系电视台和记者曝光这件事", clause
        assert c.clause_start <= c.start < c.end <= c.clause_end


# ---- real one-liners: the traps of the site's own summaries -------------------------------

# The infotainment sense of 媒体 in the one-liners: 多媒体, and the 车机媒体 / 媒体格式 of the same screen;
# 报警 in a one-line summary is a warning light or chime (故障灯报警, 胎压报警, 雷达误报警); 事故维修.
_TRAP_ROWS = ("多媒体", "车机媒体", "媒体格式", "报警", "事故维修")


def test_real_one_liners_with_infotainment_warning_lights_or_accident_repair_raise_no_flag_of_those():
    fired = []
    n = 0
    with ONE_LINERS.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = normalize(row["text"]).text
            if not any(s in text for s in _TRAP_ROWS):
                continue
            n += 1
            hits = [(c.key, text[c.start:c.end]) for c in find_cues(text)
                    if c.flag in ("media", "legal", "government", "extreme")]
            if hits:
                fired.append((row["id"], text, hits))
    assert n > 300
    assert not fired, fired


# ---- speed: cue matching runs on every prediction ----------------------------------------

def test_every_cue_pattern_lets_re_skip_ahead_to_the_characters_a_cue_starts_with():
    """A pattern whose alternatives all begin with a character gets a first-character set from
    `re`, and is scanned several times faster than one that begins with a group, a class or a
    look-behind (tried at every position). bench/bench_cues.py measures it."""
    # Python 3.11+ (the project's floor) has both private modules; a newer re that drops them
    # fails here, which is the signal to rewrite this guard.
    from re import _compiler as compiler
    from re import _parser as parser

    from triage.classify import cues

    prefix = compiler._get_charset_prefix
    slow = [f"{flag}:{name}" for flag, name, pattern in cues._CUES if prefix(parser.parse(pattern), 0) is None]
    assert not slow
