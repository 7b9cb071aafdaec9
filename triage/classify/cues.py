"""Context-aware cues for the six flags, with the traps of real complaint text.

A cue is a pattern that speaks for a flag, found at a span of the normalised text. Cues
are not the decision: they are features of the flag models, and the evidence shown to
the reviewer. What makes them more than a keyword list:

* traps: the same characters in another sense cancel the cue (多媒体 is a screen, not the
  press; 故障报警 is a warning light, not a call to the police; 事故车 and 事故维修 are
  sales and workshop business, not an accident);
* negation: 没有受伤, 未发生事故, 不会起诉 do not count;
* context: stalling is a safety cue only while driving (行驶中熄火), not when parked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from triage.classify.labels import FLAGS
from triage.text.mask import find_pii

# (flag, cue name, pattern). Cue names are stable: they are feature names of the model.
_CUES: list[tuple[str, str, str]] = [
    # media (媒体)
    ("media", "press", r"(?<![多自流])媒体|记者|电视台|上电视|报社|报纸|新闻|央视|315晚会|舆论"),
    ("media", "expose", r"曝光|网上(?:发|传|说)|发(?:到|在|上)?(?:网上|微博|抖音|快手|头条|朋友圈|小红书|论坛)"
                        r"|(?:微博|抖音|快手|小红书)(?:上)?(?:曝光|发|维权|直播)|直播维权|(?<!多)媒体曝光"),
    # legal (公检法)
    ("legal", "police", r"(?:我|我们|已|已经|要|去|只能|只好|选择|准备|打算|马上|立即|直接|电话|就|并|才)报警"
                        r"|报警(?:了|处理|求助|立案|解决|抓)|报了警|打(?:了)?110|警察|派出所|公安|交警|报案|民警"),
    ("legal", "court", r"法院|起诉|诉讼|打官司|律师|法律途径|法律程序|仲裁|检察院|立案|法律责任|上诉|判决"),
    # government (政府)
    # The hotlines as numbers of their own: not digits of a plate (粤B12345, 粤B·12345), a VIN, a
    # phone or order number (letters or digits next to them, or across a separator); the
    # rest of what makes a number an identifier, an amount or a distance is _not_a_hotline's.
    ("government", "hotline", r"(?<![0-9A-Za-z])(?<![0-9A-Za-z][-·•・._#+])(?<![A-Za-z] )"
                              r"(?:12315|12345|12365|315(?!晚会))"
                              r"(?![0-9A-Za-z])(?![-·•・._#+][0-9A-Za-z])"),
    ("government", "agency", r"市场监[督管]|监管局|工商局|工商部门|消协|消费者协会|消保委|信访|质监|质检局|交通局|运管"
                             r"|环保局|商务局|发改委|政府|监管部门|主管部门|行政部门|纪委|人大"),
    # safety (人身安全)
    ("safety", "brakes", r"ABS[^,.!?;，。！？；]{0,3}(?:失灵|失效)"
                         r"|(?:刹车|制动|刹车片|刹车系统|刹车泵|刹车管|刹车分泵|刹车总泵|制动总泵)[^,.!?;，。！？；]{0,3}"
                         r"(?:失灵|失效|不灵|不管用|没反应|踩不下|踩不动|锁死|抱死|爆裂|脱落|故障|损坏|未固定|前冲)"
                         r"|刹不住|刹车变软|制动(?:力)?(?:不足|下降)|刹车距离(?:变)?长|无法减速"
                         r"|(?:自动|主动|突然|无故)(?:刹车|刹停|制动)"),
    ("safety", "steering", r"(?:转向|方向|方向盘|方向机|转向机|助力|拉杆|转向系统)[^,.!?;，。！？；]{0,4}"
                           r"(?:失灵|失效|卡死|锁死|抱死|卡滞|卡顿|打不动|转不动|无法转向|突然(?:变)?沉|没有助力|失去助力"
                           r"|助力消失|不回位|无法回正|不回正|无法自动回位)"
                           r"|(?:转向机|方向机|转向助力|助力泵|电动助力|转向拉杆)[^,.!?;，。！？；]{0,3}(?:故障|损坏|变形)"
                           r"|失控|跑偏严重|侧滑|甩尾|侧翻"),
    ("safety", "power_loss", r"(?:行驶|行车|开车|驾驶|高速|路上|路口|起步|转弯|超车|车速|时速|开着|坡道|上坡)"
                             r"[^,.!?;，。！？；]{0,8}(?:熄火|动力(?:中断|丢失|消失|突然没|缺失)|失去动力|断电|失速|突然失灵)"
                             r"|(?:熄火|动力中断|断电)[^,.!?;，。！？；]{0,4}(?:行驶中|高速上|路上)"
                             r"|动力(?:中断|消失|丢失|缺失|瞬间消失|突然消失)|失去动力|失速|脱挡|溜车|窜动|爆缸"),
    ("safety", "runaway", r"暴冲|突然加速|自动加速|自己加速|油门卡(?:死|住)|刹车变油门|意外加速"),
    ("safety", "fire", r"自燃|起火|着火|冒烟|燃烧|烧毁|火灾|失火|爆炸|烧蚀|烤糊|烧焦"
                       r"|(?:线束|电线|插头|保险丝|线路|电路|继电器)[^,.!?;，。！？；]{0,3}熔化"),
    ("safety", "structure", r"爆胎|断轴|轴断|半轴断"
                            r"|(?:摆臂|拉杆|球头|悬挂|车轮|轮胎|轮毂|减震器|车架|前桥|后桥|平衡杆|连杆|支架|方向盘|前置顶)"
                            r"[^,.!?;，。！？；]{0,4}(?:断裂|断开|断了|折断|脱落|掉了|飞出|掉落)|车轮脱落"),
    ("safety", "restraint", r"(?:气囊|安全气囊)[^,.!?;，。！？；]{0,4}(?:没|未|不)(?:有)?(?:弹|打开|起爆)"
                            r"|(?:安全气囊|气囊)(?:系统)?故障(?!灯)"
                            r"|安全带[^,.!?;，。！？；]{0,4}(?:失效|断|无法|不能|卡死|锁不住|收不回)"),
    ("safety", "harm", r"受伤|伤亡|骨折|住院|流血|撞伤|送医|身亡|死亡|出人命"
                       r"|(?:发生|导致|造成|引发|出了|险些|差点)[^,.!?;，。！？；]{0,4}(?:事故|车祸|追尾|相撞|撞车|侧翻|翻车)"
                       r"|车祸|追尾|翻车|撞(?:上|到)了?(?:护栏|前车|墙|树|人|车)"),
    ("safety", "hazard", r"隐患|影响[^,.!?;，。！？；]{0,4}安全|危及[^,.!?;，。！？；]{0,4}安全|生命安全|人身安全|安全问题|存在安全"
                         r"|安全性能差|危险|险些|差点出事|吓死|命都差点"),
    # extreme (过激行为)
    ("extreme", "protest", r"横幅|拉条幅|堵(?:门|店|路|在门口|住)|围堵|静坐|睡在店|不走了|闹事|闹到底|维权到底.*(?:堵|砸)"),
    ("extreme", "violence", r"砸(?:车|店|了|烂|玻璃)|打人|(?<!自)动手(?!刹)|殴打|泼油漆|放火|烧了你|同归于尽|弄死|拼命|报复|威胁|恐吓|拿刀"),
    ("extreme", "self_harm", r"跳楼|自杀|喝药|轻生|以死|不想活|不活了|死给你看|割腕"),
    # repeat (重复)
    ("repeat", "repaired_again", r"(?:多次|反复|屡次|几次|好几次|一再|频繁)(?:进店|进厂|返厂|回厂|到店|去店|去4S店)?(?:维修|返修|修理|修|检修|处理|更换|换)"
                                 r"|返修|(?:修|维修|更换|换|检查|处理|进店|返厂)了?(?:[两二三四五六七八九十几\d]+|N|n|很多|好多)次"
                                 r"|修了又坏|修不好|(?:一直|始终|还是|仍然|依旧|依然)(?:没|未)(?:有)?(?:修好|解决|处理好)|又(?:坏|出现|犯)了"),
    ("repeat", "raised_again", r"再次(?:投诉|反映|反馈|出现)|又一次|第[二三四五六七八九十两\d]+次|(?:投诉|反映|反馈)(?:了|过)(?:[两二三四五六七八九十几\d]+|多|很多|好多)次"
                               r"|之前(?:也)?(?:投诉|反映)过|多次(?:投诉|反映|反馈|联系|沟通|打电话|要求)|屡次(?:投诉|反映)|至今(?:未|没)"),
]

# Characters in another sense: a cue overlapping one of these spans does not count.
_TRAPS = re.compile(
    r"多媒体|自媒体(?:功能|应用|软件|播放)?|流媒体|媒体播放"
    r"|(?:故障|系统|胎压|仪表|发动机|气囊|安全带|防盗|倒车|雷达|水温|机油|电池|电量|排放|碰撞预警|预警)(?:灯)?报警"
    r"|报警(?:灯|器|声|音|提示|信息|系统)"
    r"|事故车|事故维修|事故险|事故理赔|出险|钣喷|钣金|事故记录"
    r"|车质网|12365auto|隐患排查|安全检查|安全带提示|安全带未系|危险警示|危险报警"
    r"|新闻联播|冒烟测试|转向灯|方向盘按键|多功能方向盘|方向盘(?:控制|加热)|防侧滑|缸失火|失火缸"
    r"|饰板|饰条|装饰|防抱死"
    r"|(?:发生|出了)?(?:交通)?事故后|被追尾的感觉|隐患排查|报案出险|保险报案|报案理赔"
)

_NEGATION = re.compile(r"(?:没有|没|未|无|不会|不是|并非|并未|从未|不曾|避免|以免|防止)[^,.!?;，。！？；]{0,2}$")

# A number labelled as an identifier (订单号12345, 车牌号：12345, 尾号12345, VIN 12345) or
# counted in a unit (12345元, 315公里) is not a hotline; 热线 before it says it is one (热线号码12345).
_ID_BEFORE = re.compile(r"(?:号码?|牌照?|订单|工单|发票|车架|账户|账号|VIN码?|No\.?|#)[是为:：\s]*$", re.I)
_UNIT_AFTER = re.compile(r"\s*(?:元|块|圆|万|千|百|公里|千米|里|米|公斤|斤|次|台|辆|个|件|天|年|月|日|号|%|％)")
_HOTLINE_BEFORE = re.compile(r"热线[^,.!?;，。！？；]{0,4}$")
# Identifiers found by the personal-data patterns (a plate, a VIN, a phone number).
_IDENTIFIERS = ("plate", "vin", "mobile", "landline", "id_number")


def _not_a_hotline(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 8):start]
    if _HOTLINE_BEFORE.search(before):
        return False
    if _ID_BEFORE.search(before) or _UNIT_AFTER.match(text, end):
        return True
    return any(s.kind in _IDENTIFIERS and s.start < end and start < s.end for s in find_pii(text))


# Cues whose match must also pass a check of its surroundings.
_REJECT = {("government", "hotline"): _not_a_hotline}

_COMPILED = [(flag, name, re.compile(pattern)) for flag, name, pattern in _CUES]
# One pass that says whether any cue can be there: most complaints have none.
_ANY = re.compile("|".join(f"(?:{pattern})" for _, _, pattern in _CUES))
CUE_NAMES: tuple[str, ...] = tuple(f"{flag}:{name}" for flag, name, _ in _CUES)
assert {c.split(":")[0] for c in CUE_NAMES} == set(FLAGS)


@dataclass(frozen=True, slots=True)
class Cue:
    flag: str
    name: str
    start: int
    end: int

    @property
    def key(self) -> str:
        return f"{self.flag}:{self.name}"


def find_cues(text: str) -> list[Cue]:
    """Cues in normalised text, traps and negations removed."""
    if not _ANY.search(text):
        return []
    traps = [(m.start(), m.end()) for m in _TRAPS.finditer(text)]
    found: list[Cue] = []
    for flag, name, pattern in _COMPILED:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if any(s < end and start < e for s, e in traps):
                continue
            if _NEGATION.search(text, max(0, start - 6), start):
                continue
            reject = _REJECT.get((flag, name))
            if reject is not None and reject(text, start, end):
                continue
            found.append(Cue(flag, name, start, end))
    return found
