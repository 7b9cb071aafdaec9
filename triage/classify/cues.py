"""Context-aware cues for the six flags, with the traps of real complaint text.

A cue is a pattern that speaks for a flag, found at a span of the normalised text. Cues
are not the decision: they are features of the flag models, and the evidence shown to
the reviewer. What makes them more than a keyword list:

* traps: the same characters in another sense cancel the cue (多媒体 is a screen, not the
  press; 故障报警 is a warning light, not a call to the police; 事故车 and 事故维修 are
  sales and workshop business, not an accident);
* negation: 没有受伤, 未发生事故, 不会起诉 do not count;
* context: stalling is a safety cue only while driving (行驶中熄火), not when parked;
* the clause and its speaker (triage.classify.clauses): media, legal, government and extreme
  count only as the customer's act or threat, not as what the dealer said or did (4S店说可以
  找媒体, 经销商扬言起诉), not as news read, a law cited or a regulator's recall notice; a
  threat counts as much as the act (不解决就找媒体). Repeat needs a history of repairs or
  complaints, not a fault left unresolved once.

Each cue carries the clause it was read in (`clause_start`, `clause_end`), so that the
evidence of a long complaint can show the clause that decided it.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

from triage.classify.clauses import NP, Context
from triage.classify.labels import FLAGS
from triage.text.mask import find_pii
from triage.text.patterns import compile_all


def _each(heads: str, rest: str) -> str:
    """"a|b" and rest as "a<rest>|b<rest>". Every alternative of a cue pattern begins with a
    character (no group, no class, no look-behind first), so that `re` skips ahead to the
    characters a cue can start with instead of trying the pattern at every position."""
    return "|".join(head + rest for head in heads.split("|"))


_NO_STOP = r"[^,.!?;，。！？；]"
"""A character of the same clause, as the safety patterns read it."""
_DIGITS = "0|1|2|3|4|5|6|7|8|9"

# Pieces of the repeat patterns: many times, a repair, a place of repair, a count of times.
_MANY = ("多次|反复|屡次|几次|好几次|一再|无数次|数次|三番五次|屡屡|两次|三次|四次|五次|六次|七次|八次|九次|十次|十几次"
         "|几十次|" + _each(_DIGITS, "[0-9]*次"))
_FIX = r"(?:维修|返修|修理|检修|修|更换|换|检查|检测|处理|进店|进厂|进站|返厂|回厂|到店|送修|升级|调试|拆|整改|查看)"
_PLACE = r"(?:店|站|厂|售后|服务中心|维保中心|维修中心|4[Ss]|经销商)"
# 二次 alone is mostly "secondary" (二次切割, 二次伤害); 两次 is the count.
_TIMES = r"(?:(?!二次)[两二三四五六七八九十几数]+|[0-9]+|N|n|好几|很多|好多|无数)(?:余|多)?次"
# Between "many times" and the repair, only where it was done: 多次到4S店维修, 多次往返店内维修, 多次在店里
# 检查; not what went wrong (多次漏油要求解决 is a frequent fault, not a history of repairs).
_PLACE_WORD = r"(?:4[Ss]店?|店|站|厂|售后|中心|厂家|经销商|师傅|技师)(?:内|里)?"
_AT_PLACE = (r"(?:(?:去|到|在|进|往返|前往|跑|回|找|由|经)" + NP + r"{0,5}?" + _PLACE_WORD + "|" + _PLACE_WORD + ")?"
             r"(?:进行|做了?|给予|安排)?")
# Between "many times" and the complaint, only whom it went to: 多次与厂家及4S店联系, 多次400投诉.
_TO_WHOM = r"(?:(?:与|和|跟|向|给|找|对|通过|在|去|到|打|拨打|用)" + NP + r"{0,10}?|[0-9]+)?"
_NTH = "第" + r"(?:[二三四五六七八九十两]+|[2-9]|[1-9][0-9])次"
_COMPLAIN = r"(?:投诉|反映|反应|反馈|联系|沟通|致电|打电话|电话|要求|催促|询问|交涉|协商|申诉|找)"

# Media: the press by name (a newspaper, a channel, a column) and the places a customer posts to.
_PRESS = (r"媒体|记者|电视台|报社|报纸|央视|315晚会|舆论|网媒|上电视|上新闻|上报纸|上央视|上头条|新闻媒体|电视新闻"
          r"|晚报|日报|都市报|快报|早报|商报|栏目|都市频道|新闻频道|民生频道|公共频道|法制频道|经济频道|生活频道|小编|新闻号")
_PLATFORMS = ("网上|网络|微博|抖音|快手|今日头条|头条|朋友圈|小红书|论坛|贴吧|视频号|B站|哔哩哔哩|公众号|懂车帝|汽车之家"
              "|易车|车友群|YouTube|脸书|Facebook|知乎|生活号|百家号")
# Whose page it goes on: 发布于本人微博, 发到本地的生活号, 同步发到各大汽车论坛.
_OWNER = r"(?:本人|我的|我|自己的?|个人|本地的?|当地的?|各大|几个|多个|多家)?(?:的)?(?:汽车|车友)?"

# (flag, cue name, pattern). Cue names are stable: they are feature names of the model.
_CUES: list[tuple[str, str, str]] = [
    # media (媒体): the press and exposure; _media_ok reads who does it.
    ("media", "press", _PRESS),
    ("media", "expose", r"曝光|发帖|发文曝光|上热搜|直播维权|视频维权|报料|爆料|"
                        + _each("发|发布|发表|上传|放|贴|晒|转发|分享|公布",
                                r"(?:了|到|在|上|于|至)*" + _OWNER + r"(?:" + _PLATFORMS + ")") + "|"
                        + _each(_PLATFORMS, r"上?(?:也)?(?:曝光|发帖|发文|发视频|发了|维权|直播|晒|@)") + "|"
                        + _each("全程|开|开个|开启|现场|进行|搞|在", r"直播(?!间|带货|下单|购|买|卖|活动|价|平台|里|中|上看)") + "|"
                        + r"播放量|阅读量|浏览量|点击量|转发量|万播放|万的播放|条评论|评论区"
                        + r"|@了|@(?:你们|贵|官方|当地|本地)|艾特了?"
                        + r"|" + _each("让全网|让全市|让全国|让全城|让所有人|让更多人|让更多的人|让网友", NP + r"{0,8}?(?:看|知道|了解|认清)")
                        + r"|" + _each("视频|稿子|文章|长文|帖子", NP + r"{0,6}?(?:发出去|发出来|就发|发布|公开)")),
    # legal (公检法): the police and the courts; _police_ok and _court_ok read who goes there.
    ("legal", "police", r"报了警|报警|" + _each("打|拨打|拨|致电|报", r"了?110(?![0-9A-Za-z])")
                        + r"|警察|民警|警方|出警(?!示|告)|派出所|公安|报案"),
    ("legal", "court", r"提起诉讼|起诉|诉讼|打官司|告上法庭|法庭|法院|律师|仲裁|检察院|诉诸法律|上诉|判决|法律责任"
                       r"|法律(?:途径|程序|手段|武器|渠道|诉讼)|" + _each("用|通过|走|依靠|借助|拿起|运用|寻求", "法律")
                       + r"|司法(?:途径|程序|诉讼|救济)"),
    # government (政府): the hotlines (digits of an identifier are told apart by _hotline_ok) and bodies.
    ("government", "hotline", r"12315|12345|12365|315|市长热线|市民热线|政务(?:服务)?热线|便民(?:服务)?热线|政府热线"
                              r"|市长信箱|省长信箱"),
    ("government", "agency", r"市场监[督管](?:管理)?(?:总局|局|部门|所)?|市监(?:局|所|部门)?|监管(?:局|部门|机构)"
                             r"|工商(?:局|部门|行政|所|管理)|消协|消费者协会|消保委|消委会|消费者权益保护委员会"
                             r"|信访|上访|质监|质检局|质量技术监督|技术监督局|交通(?:运输)?局|运管|环保局|商务(?:局|厅|部)"
                             r"|发改委|工信部|工信厅|经信委|政府|主管部门|行政部门|职能部门|执法部门|纪委|人大"
                             r"|有关部门|相关部门|缺陷产品管理中心|召回(?:管理)?中心|质量发展局"),
    # safety (人身安全)
    ("safety", "brakes", r"ABS" + _NO_STOP + r"{0,3}(?:失灵|失效)|"
                         + _each("刹车|制动|刹车片|刹车系统|刹车泵|刹车管|刹车分泵|刹车总泵|制动总泵", _NO_STOP + r"{0,3}"
                                 r"(?:失灵|失效|不灵|不管用|没反应|踩不下|踩不动|锁死|抱死|爆裂|脱落|故障(?!灯)|损坏|未固定|前冲)")
                         + r"|刹不住|刹车变软|制动(?:力)?(?:不足|下降)|刹车距离(?:变)?长|无法减速|"
                         + _each("手刹|电子手刹|驻车制动", _NO_STOP + r"{0,3}(?:失灵|失效)") + "|"
                         + _each("车轮|轮胎|前轮|后轮", _NO_STOP + r"{0,3}抱死") + "|"
                         + _each("自动|主动|突然|无故", r"(?:刹车|刹停|制动)")),
    ("safety", "steering", _each("转向|方向|方向盘|方向机|转向机|助力|拉杆|转向系统", _NO_STOP + r"{0,4}"
                                 r"(?:失灵|失效|卡死|锁死|抱死|卡滞|卡顿|打不动|转不动|无法转向|突然(?:变)?沉|没有助力|失去助力"
                                 r"|助力消失|不回位|无法回正|不回正|无法自动回位)") + "|"
                           + _each("转向机|方向机|转向助力|助力泵|电动助力|转向拉杆|横拉杆|方向助力|助力转向",
                                   _NO_STOP + r"{0,3}(?:故障(?!灯)|损坏|变形)")
                           + r"|失控|跑偏严重|侧滑|甩尾|侧翻|无法操控|难以操控|难操控|无助力|助力失效"),
    ("safety", "power_loss", _each("行驶|行车|开车|驾驶|高速|路上|路口|起步|转弯|超车|车速|时速|开着|坡道|上坡", _NO_STOP
                                   + r"{0,8}(?:熄火|动力(?:中断|丢失|消失|突然没|缺失)|失去动力|断电|失速|突然失灵)") + "|"
                             + _each("熄火|动力中断|断电", _NO_STOP + r"{0,4}(?:行驶中|高速上|路上)")
                             + r"|动力(?:中断|消失|丢失|缺失|瞬间消失|突然消失)|失去动力|失速|脱挡|溜车|窜动|爆缸"),
    ("safety", "runaway", r"暴冲|突然加速|自动加速|自己加速|油门卡(?:死|住)|刹车变油门|意外加速|突然降速|突然减速|"
                          + _each("油门|油门踏板", _NO_STOP + r"{0,3}(?:失灵|失效)")),
    ("safety", "fire", r"自燃|起火|着火|冒烟|燃烧|烧毁|火灾|失火|爆炸|烧蚀|烤糊|烧焦|"
                       + _each("线束|电线|插头|保险丝|线路|电路|继电器", _NO_STOP + r"{0,3}熔化")),
    ("safety", "structure", r"爆胎|断轴|轴断|半轴断|"
                            + _each("摆臂|拉杆|球头|悬挂|车轮|轮胎|轮毂|减震器|车架|前桥|后桥|平衡杆|连杆|方向盘|前置顶",
                                    _NO_STOP + r"{0,4}(?:断裂|断开|断了|折断|脱落|掉了|飞出|掉落)")
                            + r"|车轮脱落|"
                            + _each("轮毂|钢圈|轮辋", _NO_STOP + r"{0,3}(?:开裂|裂开|裂纹|裂口|断裂)") + "|"
                            + _each("传动轴|车架|大架|纵梁|副车架", _NO_STOP
                                    + r"{0,4}(?:断裂|断开|断了|折断|脱落|掉落|掉了|裂口|开裂)") + "|"
                            + _each("A柱|B柱", _NO_STOP + r"{0,4}(?:断裂|折断)")),
    ("safety", "restraint", _each("气囊|安全气囊", _NO_STOP + r"{0,4}(?:没|未|不)(?:有)?(?:弹|打开|起爆)") + "|"
                            + _each("安全气囊|气囊", r"(?:系统)?故障(?!灯)")
                            + r"|安全带" + _NO_STOP + r"{0,4}(?:失效|断|无法|不能|卡死|锁不住|收不回|故障(?!灯)|卡不紧|锁死|不会弹"
                                                       r"|拉出不回|不回收|扣不上)"),
    ("safety", "harm", r"受伤|伤亡|骨折|住院|流血|撞伤|送医|身亡|死亡|出人命|"
                       + _each("发生|导致|造成|引发|出了|险些|差点", _NO_STOP + r"{0,4}(?:事故|车祸|追尾|相撞|撞车|侧翻|翻车)")
                       + r"|车祸|追尾|翻车|撞(?:上|到)了?(?:护栏|前车|墙|树|人|车)"),
    ("safety", "hazard", r"隐患|影响" + _NO_STOP + r"{0,4}安全|危及" + _NO_STOP + r"{0,4}安全|生命安全|人身安全|安全问题"
                         r"|存在安全|安全性能差|危险|险些|差点出事|吓死|命都差点"),
    # extreme (过激行为): what the customer does or threatens to do.
    ("extreme", "protest", r"横幅|条幅|围堵|静坐|睡在店|住在店|赖着不走|赖在店|闹事|大闹|闹到底|用红漆|拿红漆|喷红漆|泼红漆"
                           r"|堵(?:住|在)?(?:你们的?|贵)?(?:4[Ss]店|店|门|大门|店门|门口|路口|出口|入口|展厅)|"
                           + _each("我|我们|本人|家人|一家人", NP + r"{0,6}?不走(?:了)?(?!路|动|道)") + "|"
                           # The car put across the gate: 把车横在4S店大门口, 一直横在这, 拖到你们店大门口横着放.
                           + _each("横在|横着|堵在|挡在|拦在", NP + r"{0,8}?(?:门口|大门|店门|展厅|出口|入口|路口)")
                           + r"|横在这|横着放|" + _each("谁也别想|谁都别想|谁也不许", NP + r"{0,4}?(?:进|出|走)")
                           # Sitting or lying in, or chained to the car: 就坐在你们售后接待台前面, 躺在举升机下面.
                           + r"|" + _each("就坐在|天天坐在|每天坐在|就住在|就睡在", NP + r"{0,10}?(?:店|展厅|接待|车间|前台|门口)")
                           # Here, only as an act: 我就住在这儿了, not 我家就住在这里 (where one lives).
                           + r"|" + _each("就坐在|就住在|就睡在", r"(?:这儿|这里)(?:了|不走)")
                           + r"|" + _each("躺在", NP + r"{0,10}?(?:举升机|车底|车前|地上)")
                           + r"|锁在一起"),
    ("extreme", "violence", r"砸(?:车|店|展厅|门|玻璃|烂|坏|了)|打砸|打人|殴打|打伤|动起手|大打出手|动手"
                            r"|泼油漆|泼漆|放火|烧了你|同归于尽|弄死|" + _each("跟|和|与", NP + r"{0,6}?拼(?:命|了)")
                            + r"|拿刀|持刀|报复(?!性)|以暴制暴|揪住了?(?:他|她|我|衣领|领子)|推了我|见一次打一次|饶不了|浇上汽油|浇汽油|泼汽油"
                            + r"|" + _each("撞", r"(?:你们的?)?(?:店门|展厅|大门)")
                            # Threats to a person: 让他小心点, 别让我碰见他, 我知道他住哪, 不保证能控制住自己.
                            + r"|" + _each("让他|叫他|告诉他|让她|叫她|告诉她", NP + r"{0,8}?小心(?:点|些)")
                            + r"|" + _each("别让我|不要让我", NP + r"{0,8}?(?:碰见|碰上|碰到|遇见|遇到|看见)")
                            + r"|" + _each("知道他|知道她", r"住(?:哪|在)")
                            + r"|" + _each("不保证", NP + r"{0,4}?(?:控制|做出|干出)")),
    ("extreme", "self_harm", r"跳楼(?!价|甩卖|大甩卖)|自杀(?!式)|喝药|喝农药|轻生|以死|不想活|不活了|死给你看|割腕|自残"
                             r"|" + _each("从", r"(?:这里|这儿|楼上|楼顶|顶楼|天台|桥上|窗户|窗口)跳")
                             + r"|" + _each("站在", NP + r"{0,8}?(?:楼顶|天台|顶楼)")),
    # repeat (重复): a history of repairs (repaired_again) or of complaints (raised_again).
    ("repeat", "repaired_again", _each(_MANY, _AT_PLACE + _FIX) + r"|频繁(?:维修|返修|更换|返厂|进店|进站)|"
                                 + _each(_MANY, r"(?:去|到|前往|往返|跑|进|回)" + NP + r"{0,6}?" + _PLACE) + "|"
                                 + _each("维修|返修|修理|修|检修|更换|换|检查|检测|处理|进店|进站|返厂|送修|升级|调试|调校|调整"
                                         "|拆|去|跑|到|进|坏|损坏|出现", r"(?:了|过)?" + NP + r"{0,4}?" + _TIMES) + "|"
                                 + _each("维修|返修|修理|修|检修|更换|换|返厂|拆", r"(?:了|过)?多次") + "|"
                                 + _each("出现|发生", r"(?:了|啦|过)?(?:和之前|跟之前|与之前)?(?:同样|相同|类似|一样)的?"
                                                     r"(?:问题|故障|情况|现象|毛病)")
                                 + r"|返修|维修次数|返修次数|修了又坏|修好又坏|修了又修|换了又换|一修再修|屡修不好|"
                                 + _each("再次|再度", r"(?:维修|返修|送修|进店|进厂|进站|返厂|到店|去店|更换|换|拆|检修|检查"
                                                     r"|处理|出现|发生|坏|损坏|故障|亮|报|出问题|发现)")
                                 + r"|又(?:出现|坏|犯|现|发生|复发|亮|响|漏|堵|提示|报|不行|出问题|故障|返厂|进店|要换|要修"
                                 r"|更换|换|维修|修|拆|检查|检测|升级|刷|返修"
                                 r"|开始(?:出现|有|生锈|漏|响|异响|抖|故障|报|亮|坏|掉|起泡|不))"
                                 r"|又(?:去|到|跑|进|送|拉|拖|返)(?=" + NP + r"{0,10}?(?:店|厂|站|售后|维修|检查|检测|修))"
                                 r"|重复(?:出现|维修|修|更换|故障|发生)|故障重现|问题复现|问题复发|" + _NTH),
    ("repeat", "raised_again", _each("再次|再度|又|重新|二次|追加", r"(?:投诉|反映|反应|反馈|联系|沟通|致电|打电话|追诉|申诉"
                                                                   r"|找|催|询问|交涉|提出|咨询|申请|要求)") + "|"
                               + _each("投诉|反映|反应|反馈|联系|沟通|致电|打电话|催|询问|交涉|协商|申诉|找|打",
                                       r"(?:了|过)?" + NP + r"{0,6}?" + _TIMES) + "|"
                               + _each("投诉|反映|反应|反馈|联系|沟通|致电|催|交涉|协商", r"(?:了|过)?多次") + "|"
                               + _each("打|拨打", r"了?(?:几十|十几|几|好几|[0-9]+)(?:通|个)电话") + "|"
                               + _each(_MANY, _TO_WHOM + _COMPLAIN) + "|"
                               + _each("之前|此前|以前|曾经|曾|早前|上次|前面|已经", r"(?:也|已|已经|都)?(?:投诉|反映|反馈|申诉)过")
                               + r"|上次(?:投诉|追加|反映|反馈)|投诉过" + NP + r"{0,6}?(?:没有|未|仍|还是|依旧|依然|至今|无果)|"
                               + _NTH + r"(?:投诉|反映|反馈|联系|追诉|申诉|来电|致电|打电话)|不是第一次|不止一次|又一次"),
]

# Characters in another sense: a cue overlapping one of these spans does not count.
_TRAPS = re.compile(
    r"多媒体|自媒体(?:功能|应用|软件|播放)?|流媒体|媒体播放|"
    + _each("故障|系统|胎压|仪表|发动机|气囊|安全带|防盗|倒车|雷达|水温|机油|电池|电量|排放|碰撞预警|预警", "(?:灯)?报警")
    + r"|报警(?:灯|器|声|音|提示|信息|系统)"
    r"|事故车|事故维修|事故险|事故理赔|出险|钣喷|钣金|事故记录"
    # What the dealer says to play it down (4S店说不影响行车安全) is no hazard.
    r"|不影响(?:行车|驾驶|行驶|车辆|人身|生命|使用)?(?:的)?安全"
    r"|车质网|12365auto|隐患排查|安全检查|安全带提示|安全带未系|危险警示|危险报警"
    r"|新闻联播|冒烟测试|转向灯|方向盘按键|多功能方向盘|方向盘(?:控制|加热)|防侧滑|缸失火|失火缸"
    r"|饰板|饰条|装饰|防抱死|"
    + _each("发生|出了", "(?:交通)?事故后") + "|交通事故后|事故后"
    r"|被追尾的感觉|隐患排查|报案出险|保险报案|报案理赔"
    # A part that burns out or breaks in its own place is not the car on fire or its running
    # gear giving way, nor is damage done to the car a person hurt. Of the annotated one-liners
    # of 2020-06..09 these cues were safety in: 烧毁 0 of 7, 烧蚀 0 of 3, 支架断裂 2 of 5,
    # 连杆断裂 (an engine's) 1 of 3. A part's "故障灯" is a warning light (in the patterns).
    r"|曲轴|凸轮轴|发动机" + _NO_STOP + r"{0,2}连杆|防尘套|内衬板?|衬板|挡泥板|轮眉"
    r"|座椅" + _NO_STOP + r"{0,4}拉杆|调节拉杆|"
    + _each("离合器片|离合器|离合|电脑板|电脑|电路板|控制单元|模块|芯片|电机|马达|保险盒|保险丝|车灯|大灯|灯泡"
            r"|泵|压缩机|鼓风机|风扇", _NO_STOP + r"{0,4}(?:烧毁|烧蚀|烧坏)") + "|"
    + _each("保险杠|车门|车身|漆面|车漆|轮毂|叶子板|后视镜|车头|车尾", r"(?:被)?撞伤")
)

# 无故 (for no reason) is no negation: 无故爆胎, 无故断裂.
_NEGATION = re.compile(r"(?:没有|没|未|无(?!故)|不会|不是|并非|并未|从未|不曾|避免|以免|防止)[^,.!?;，。！？；]{0,2}$")

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


# ---- the checks of media, legal, government, extreme and repeat -------------------------
# Each takes the text's Context and the span of a match, and says whether the cue holds there.

def _search(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """A test of the text just before a match: the pattern ends where the match begins."""
    return re.compile(f"(?:{pattern})$").search


def _starts(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """A test of the text just after a match."""
    return re.compile(pattern).match


# News read, an article seen: the customer learnt of it, they did not go to the press.
# 报道的 describes the journalist (做维权报道的记者), not news the customer read.
_INFO_BEFORE = _search(r"(?:看到|看见|得知|听说|了解到|刷到|据|新闻上|报道(?!的)|网上看|查到|搜到|查询|在网上看)" + NP + "{0,12}")
_INFO_AFTER = _starts(NP + r"{0,6}?(?:报道中|报道称|文章|曝出|曝光的|上看到|得知|看到|了解到|获悉|知道|标榜|宣传|拆车|评测"
                      r"|格式|文件|播放|中心|系统|功能|音量|屏|界面)")
_PRESS_ACT_BEFORE = _search(r"(?:找|联系|联络|求助|投诉|诉诸|曝光|告知|通知|反映|向|交给|请|让|叫|到|寻求|借助|通过|发给|接受|求|去"
                            r"|提供给|报给|写给|寄给|递给|打给|@|艾特|约了?|投稿|爆料给|报料给)" + NP + "{0,12}")
_THREAT_BEFORE = _search(r"(?:就|将|会|要|准备|打算|否则|不然|要不|必要时|直至|直到|一定|立即|马上|我|本人|继续|持续)" + NP + "{0,30}")
_PRESS_ACT_AFTER = _starts(NP + r"{0,4}?(?:曝光|介入|采访|报道|维权|投诉|反映|求助|来|到场)")
# The press at work on this case: 记者也联系了我, 媒体已介入, 记者已到店采访, 小编也来了, 栏目联系我做了采访.
_PRESS_ENGAGED = _starts(r"(?:也|都|还|已|已经|正在|马上|明天|下午|今天|会|要|就)*"
                         r"(?:联系了?我|找了?我|跟我|和我|私信我?|约了?我|采访我|到店|到场|到现场|来店|过来|来了|要来|会来|来拍"
                         r"|介入|跟进|在跟|说要做|准备做|要做)")
# Told to the press: 也跟本地的电视台说了.
_TOLD_BEFORE = _search(r"(?:跟|和|同)" + NP + "{0,8}")
_TOLD_AFTER = _starts(r"(?:说|讲|反映|爆料|报料|联系|沟通)")
_PASSIVE = _search(r"被(?!迫|逼)" + NP + "{0,6}")
_PHOTO_BEFORE = _search(r"(?:照|拍|相机|摄像|镜头|照片|图片|画面)" + NP + "{0,4}")
_PHOTO_AFTER = _starts(r"(?:过度|不足|补偿|时间|度|值|参数)")
# The press as the subject of the exposure (央视曝光了…): news, not the customer's act.
_MEDIA_SUBJECT = _search(r"(?:央视|媒体|电视台|记者|新闻|晚会|网友|报道|节目|电视)(?:都|也|已|已经|多次|相继|纷纷|曾|曾经|又)?")
# Other people posting (有人投诉后发帖, 车友发帖说是通病): not the customer exposing anything.
_OTHERS_POST = _search(r"(?:有人|别人|车友(?!群|会)|网友|大家|其他车主|很多人|不少人|好多人)" + NP + "{0,5}")
_TO_CUSTOMER = _starts(r"给(?:用户|客户|车主|我|顾客)")


def _media_ok(ctx: Context, start: int, end: int) -> bool:
    if ctx.said_by_other(start, end) or ctx.done_by_other(start, end):
        return False
    before, after = ctx.before(start, end, 16), ctx.after(start, end, 12)
    if _INFO_BEFORE(before):
        return False
    word = ctx.text[start:end]
    if word in _PRESS_WORDS:
        if word.startswith("上"):
            return True
        if _INFO_AFTER(after):
            return False
        return bool(_PRESS_ACT_BEFORE(before) or (_THREAT_BEFORE(before) and _PRESS_ACT_AFTER(after))
                    or _PRESS_ENGAGED(after) or (_TOLD_BEFORE(before) and _TOLD_AFTER(after)))
    # A photo's 曝光 is its exposure; a photo posted (照片发朋友圈) is still posted.
    photo = "曝光" in word and (_PHOTO_BEFORE(before) or _PHOTO_AFTER(after))
    if _PASSIVE(before) or photo or _TO_CUSTOMER(after) or _OTHERS_POST(before):
        return False
    return not (_MEDIA_SUBJECT(before) and not _PRESS_ACT_BEFORE(before))


_PRESS_WORDS = frozenset(_PRESS.split("|"))
"""What media:press matches (the rest of media is media:expose); 上电视 and the like are acts already."""

# 报警 of a warning light: a part or a reading before it, or the light, a count or a chime after.
_DEVICE_BEFORE = _search(r"(?:灯|故障|系统|仪表|发动机|胎压|雷达|机油|水温|油箱|车机|传感器|刹车片|蹄片|防冻液|电池|电瓶|电量"
                         r"|故障码|代码|ESC|EPC|ABS|颗粒|捕捉器|轮胎|质保|公里|km|KM|变速箱|气囊|安全带|温度|油量|车辆|车子)"
                         + NP + "{0,8}")
_DEVICE_ADVERB = _search(r"(?:再次|继续|频繁|经常|时常|乱|误|不停|又|偶尔|同时|自动|突然|总是|老是|一直)")
_DEVICE_AFTER = _starts(r"(?:灯|线|器|声|音|提示|信息|系统|亮|显示|代码|码|次数|一次|了?[0-9一两二三四五六七八九十几多]+次|了?[0-9])")
# Someone acting: 我报警, 只能报警, 当场报警, 选择了报警; or what follows: 报警处理, 报警了.
_POLICE_AGENT = _search(r"(?:我|我们|本人|车主|家人|家属|客户|双方|只能|只好|只有|选择|准备|打算|立即|马上|当场|当即|直接|就|已|已经"
                        r"|才|并|于是|随即|无奈|然后|后来|遂|要|会|将|去|便|必须|决定|不得不|只得)了?")
_POLICE_AFTER = _starts(r"(?:了|处理|求助|立案|解决|抓)")
# A report for the insurer, a damage record, an accident: a formality, not the dispute.
_FORMALITY = re.compile(r"保险|理赔|定损|报损|出险|证明|开具|备案|登记")
_ACCIDENT = re.compile(r"事故|追尾|相撞|撞车|交通|被盗|被偷|丢失|划伤|刮伤|剐蹭|被划|被刮|被人划")
_GO_BEFORE = _search(r"(?:去|到|找|报|向|请|叫|让|求助|联系|前往|打电话给)" + NP + "{0,3}")
_POLICE_ACT_AFTER = _starts(r"(?:机关|局|分局)?(?:已|已经|也)?(?:调解|出警|处理|介入|民警|立案|受理|报案|举报|报警|来人|协调)")


def _police_ok(ctx: Context, start: int, end: int) -> bool:
    if ctx.said_by_other(start, end) or ctx.done_by_other(start, end):
        return False
    text = ctx.text
    word = text[start:end]
    before, after = ctx.before(start, end, 12), ctx.after(start, end, 6)
    sentence = text[slice(*ctx.sentence(start, end))]
    if _FORMALITY.search(sentence):
        return False
    if word == "报警":
        if _DEVICE_BEFORE(before) or _DEVICE_ADVERB(before) or _DEVICE_AFTER(after):
            return False
        return bool(_POLICE_AGENT(before) or _POLICE_AFTER(after))
    if word == "报了警" or word.endswith("110"):
        return True
    if _ACCIDENT.search(sentence):
        return False
    if word == "报案":
        return re.search(r"公安|警方|派出所|警察", before) is not None
    if word in ("派出所", "公安"):
        return bool(_GO_BEFORE(before) or _POLICE_ACT_AFTER(after))
    return not before.endswith("交通")


def _court_ok(ctx: Context, start: int, end: int) -> bool:
    if ctx.in_title(start) or ctx.said_by_other(start, end) or ctx.done_by_other(start, end):
        return False
    text = ctx.text
    word = text[start:end]
    before, after = ctx.before(start, end, 12), ctx.after(start, end, 6)
    if _PASSIVE(before):
        return False
    if word == "诉讼":
        # 诉讼请求 in a complaint letter is the customer's demands, not a lawsuit.
        return not after.startswith(("请求", "的请求"))
    if word == "上诉":
        # Mostly a slip for 上述 (上诉问题); an appeal is filed (提起上诉, 上诉至法院).
        return bool(re.match(r"至|到|法院|中院", after) or re.search(r"(?:提起|已经|已|将|会|我|准备|要)$", before))
    if word == "法律责任":
        return "追究" in before
    return True


_315_NOT = _starts(r"(?:晚会|这个|这天|当天|日|期间|前|后|主播|节目|特殊|号|国际|消费者权益日|那天|之际|来临|到来|活动|维权日)")
_315_ACT_BEFORE = _search(r"(?:打|拨打|拨|致电|联系|向|到|去|找|通过|提交|投诉|反映|举报|求助|报)" + NP + "{0,8}")
_315_ACT_AFTER = _starts(r"(?:热线|投诉|平台|举报|电话|消协|消费者协会|消费者投诉|反映|维权|部门|工作人员|受理)")


# The hotlines as numbers of their own: not digits of a plate (粤B12345, 粤B·12345), a VIN, a phone
# or order number (letters or digits next to them, or across a separator); the rest of what makes
# a number an identifier, an amount or a distance is _not_a_hotline's.
_NUMBER_BEFORE = re.compile(r"(?:[0-9A-Za-z]|[0-9A-Za-z][-·•・._#+]|[A-Za-z] )$")
_NUMBER_AFTER = re.compile(r"[0-9A-Za-z]|[-·•・._#+][0-9A-Za-z]")


def _hotline_ok(ctx: Context, start: int, end: int) -> bool:
    text = ctx.text
    word = text[start:end]
    if word[0].isdigit():
        if _NUMBER_BEFORE.search(text, max(0, start - 2), start) or _NUMBER_AFTER.match(text, end):
            return False
        if _not_a_hotline(text, start, end):
            return False
        if word == "315":
            # 315 is also the consumer-rights day and its TV gala: only a hotline when called.
            before, after = ctx.before(start, end, 12), ctx.after(start, end, 8)
            if _315_NOT(after) or not (_315_ACT_BEFORE(before) or _315_ACT_AFTER(after)):
                return False
    return not ctx.said_by_other(start, end)


_SUBSIDY = _starts(r"的?(?:购车|置换|以旧换新|新能源|消费|汽车)?(?:补贴|补助|奖励|消费券|购车券|指导价|采购|层面|政策)")
# A regulator cited or publishing (根据市场监管总局公布的《…》, 向总局备案了召回计划): no one took it there.
_CITE_BEFORE = _search(r"(?:根据|依据|按照|依照|参照|遵照|援引|引用)" + NP + "{0,15}")
_CITE_AFTER = _starts(NP + r"{0,4}?(?:公布|发布|颁布|出台|印发|备案|规定|文件|公告|《|条例|标准)")
_GENERIC_BODY = frozenset({"有关部门", "相关部门", "主管部门", "行政部门", "职能部门", "执法部门"})
# 相关部门 of the maker (厂家客服会反馈给相关部门), unless the customer appeals (厂家不管请相关部门介入).
_MAKER_BEFORE = _search(r"(?:厂家|厂方|客服|公司|售后|4[Ss]店|经销商|店里|店方|内部|安排|反馈给|转给|转交|交给|提交给|催促|上报|我司"
                        r"|贵司)" + NP + "{0,8}")
_APPEAL_BEFORE = _search(r"(?:请|望|希望|恳请|恳求|要求|建议|呼吁|盼|投诉到|投诉至|反映到|向)" + NP + "{0,3}")


def _agency_ok(ctx: Context, start: int, end: int) -> bool:
    if ctx.in_title(start):
        return False
    word = ctx.text[start:end]
    before, after = ctx.before(start, end, 16), ctx.after(start, end, 8)
    if word == "政府" and _SUBSIDY(after):
        return False
    if _CITE_BEFORE(before) or _CITE_AFTER(after):
        return False
    if word in _GENERIC_BODY and _MAKER_BEFORE(before) and not _APPEAL_BEFORE(before):
        return False
    return not ctx.said_by_other(start, end)


_DIY_BEFORE = _search(r"自己|亲自|自行|自")
_DIY_AFTER = _starts(r"(?:刹|能力|改|修|换|拆|装|处理|做|操作|解决|DIY|保养|清洗|调)")
_BLOW_AFTER = _starts(r"打|推|了|伤")
_BLOW_BEFORE = _search(r"(?:对|跟|和|与)" + NP + r"{0,6}|还|竟然|居然|先|直接|就|差点|险些|要|想")


def _violence_ok(ctx: Context, start: int, end: int) -> bool:
    word = ctx.text[start:end]
    before, after = ctx.before(start, end, 10), ctx.after(start, end, 4)
    if word.startswith("砸"):
        # 玻璃被砸烂 (vandals), 你们给砸了 (the workshop): not the customer smashing; 我把前挡风给砸了 is.
        if re.search(r"把" + NP + "{0,12}给$", before):
            return True
        return not re.search(r"(?:被|给)" + NP + "{0,4}$", before)
    if word == "动手":
        # 自己动手换灯泡 is doing it yourself; 动手打人, 对我动手, 竟然动手 is violence.
        if _DIY_BEFORE(before) or _DIY_AFTER(after):
            return False
        return bool(_BLOW_AFTER(after) or _BLOW_BEFORE(before))
    return True


def _protest_ok(ctx: Context, start: int, end: int) -> bool:
    if _WAITING(ctx.text[start:end]) and "等" in ctx.after(start, end, 10):
        return False  # 就坐在店里等结果: waiting, not a sit-in
    return not ctx.said_by_other(start, end)  # 店长说我闹事


_WAITING = re.compile(r"(?:就|天天|每天)坐在").match


def _as_written(ctx: Context, start: int, end: int) -> bool:
    """No check beyond the clause's negation (不会跳楼)."""
    return True


_NOT_AGAIN = _starts(r"了?(?:一些|一个|个)?(?:新|另|其他|其它|别的)")
_NTH_NOT = _starts(NP + r"{0,3}?(?:保养|购|买|感受|体会|见|来到|参加|提车|交车|降价|首保)")
_NTH_EVENT = _starts(NP + r"{0,8}?(?:维修|修|返修|返厂|进店|到店|去|出现|坏|损坏|发生|故障|更换|换|拖|送|同样|相同|问题|检查|检测"
                     r"|熄火|失速|漏|异响|抖|亮|失效|失灵)")
# Other owners' cars with the same fault (很多车主出现同样问题): a known defect, not this car's history.
_OTHER_CARS = re.compile(r"车友|车主|其他|其它|别人|网上|很多|大量|同款|同批|大部分|普遍|都").search
# Not a history but a worry: 随时都会再次发生, 保证再次出现类似问题, 避免类似情况的再次发生.
_HYPOTHETICAL = _search(r"(?:会|可能|保证|如果|若|万一|担心|害怕|怕|以防|避免|以免|防止|杜绝)" + NP + "{0,8}")


def _repeat_ok(ctx: Context, start: int, end: int) -> bool:
    word = ctx.text[start:end]
    after = ctx.after(start, end, 10)
    if word.startswith(("又", "再次", "再度", "重复")) and _HYPOTHETICAL(ctx.before(start, end, 12)):
        return False
    if re.search("同样|相同|类似|一样", word) and _OTHER_CARS(ctx.before(start, end, 12)):
        return False
    if word.startswith("又出现"):
        return not _NOT_AGAIN(after)  # 又出现了新的问题 is another fault, not the same one again
    if word.startswith("第") and word.endswith("次"):
        # 第二次保养, 第二次感受到: a count, not a history; 第二次维修, 这是第三次: a history.
        if _NTH_NOT(after):
            return False
        return bool(_NTH_EVENT(after) or re.search(r"(?:已经是|这是|这已经是|已是|都)$", ctx.before(start, end, 6)))
    return True


Check = Callable[[Context, int, int], bool]
_CHECKS: dict[tuple[str, str], Check] = {
    ("media", "press"): _media_ok, ("media", "expose"): _media_ok,
    ("legal", "police"): _police_ok, ("legal", "court"): _court_ok,
    ("government", "hotline"): _hotline_ok, ("government", "agency"): _agency_ok,
    ("extreme", "protest"): _protest_ok, ("extreme", "violence"): _violence_ok, ("extreme", "self_harm"): _as_written,
    ("repeat", "repaired_again"): _repeat_ok, ("repeat", "raised_again"): _repeat_ok,
}

_COMPILED = [(flag, name, compiled, _CHECKS.get((flag, name)))
             for (flag, name, _), compiled in zip(_CUES, compile_all([pattern for _, _, pattern in _CUES]))]
CUE_NAMES: tuple[str, ...] = tuple(f"{flag}:{name}" for flag, name, _ in _CUES)
assert {c.split(":")[0] for c in CUE_NAMES} == set(FLAGS)


@dataclass(frozen=True, slots=True)
class Cue:
    flag: str
    name: str
    start: int
    end: int
    clause_start: int = -1
    clause_end: int = -1
    """The clause the cue was read in, [clause_start, clause_end) of the same text (-1: not given)."""

    @property
    def key(self) -> str:
        return f"{self.flag}:{self.name}"

    @property
    def clause(self) -> tuple[int, int]:
        """[start, end) of the clause that decided the cue; the cue's own span when not given."""
        return (self.clause_start, self.clause_end) if self.clause_start >= 0 else (self.start, self.end)


def find_cues(text: str) -> list[Cue]:
    """Cues in normalised text, traps and negations removed; media, legal, government, extreme
    and repeat read in their clause (see the module's docstring)."""
    found: list[Cue] = []
    # Most complaints have no cue at all: the traps and the clauses are found on the first match.
    traps: list[tuple[int, int]] | None = None
    ctx = Context(text)
    for flag, name, pattern, check in _COMPILED:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if traps is None:
                traps = [(t.start(), t.end()) for t in _TRAPS.finditer(text)]
            if any(s < end and start < e for s, e in traps):
                continue
            if check is None:  # safety: its own negation, its context in its patterns
                if _NEGATION.search(text, max(0, start - 6), start):
                    continue
            elif ctx.negated(start, end) or not check(ctx, start, end):
                continue
            found.append(Cue(flag, name, start, end, *ctx.clause(start, end)))
    return found


_JOIN = "\x00"
"""What `find_cues_batch` joins the texts of a batch with: no cue pattern starts with it, and
no negative look-around of theirs matches it (tests/test_predict_batch.py)."""


def find_cues_batch(texts: Sequence[str]) -> list[list[Cue]]:
    """[find_cues(t) for t in texts], at a third of the cost on one-liners: each pattern runs
    once over the whole batch joined, and only the texts it matches in (a tenth of the
    one-liners) are read one by one. A match that runs from one text into the next marks every
    text it touches: their positions it covered were not tried on their own; a look-ahead that
    sees into the next text only adds a text to read."""
    if len(texts) < 2:
        return [find_cues(t) for t in texts]
    joined = _JOIN.join(texts)
    starts = list(accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
    matched = [False] * len(texts)
    for _, _, pattern, _ in _COMPILED:
        for m in pattern.finditer(joined):
            first = bisect_right(starts, m.start()) - 1
            last = bisect_right(starts, max(m.start(), m.end() - 1)) - 1
            matched[first:last + 1] = [True] * (last + 1 - first)
    return [find_cues(t) if hit else [] for t, hit in zip(texts, matched)]
