"""The context a flag cue is read in: its clause, its sentence, and who is speaking there.

A complaint told in full mixes what the dealer or the maker said with what the customer
did ("4S店说可以去起诉，我不想闹大"). A cue for media, legal, government or extreme counts
only when it is the customer's act or threat, in a clause that is not negated. These
helpers answer the questions the flag checks in `cues.py` ask of a match: which clause
holds it, what comes just before and after it there, is it negated, is it quoted from the
other side, is it inside a title 《…》.
"""

from __future__ import annotations

import re
from bisect import bisect_left

NP = r"[^,.!?;:，。！？；：\s]"
"""One character of the same clause: no punctuation, no white space."""

# Clauses end at punctuation, line breaks, and spaces between Chinese characters (many
# owners separate clauses with a space); a full stop between digits (2.0T) is no end.
_CLAUSE_END = re.compile(r"[,!?;，。！？；\n]|(?<!\d)\.|\.(?!\d)"
                         r"|(?<=[\u4e00-\u9fff])[ \t]+(?=[\u4e00-\u9fff])")
_SENTENCE_END = re.compile(r"[!?;。！？；\n]|(?<!\d)\.(?!\d)")

# The other side: the dealership, the maker and their staff, by name or pronoun.
_OTHER = (r"(?:4[Ss]店|四[Ss]店|经销商|厂家|厂方|厂商|主机厂|销售(?:顾问|经理|人员)?|售后(?:经理|主管|人员|总监)?|客服"
          r"|店长|服务(?:经理|顾问|站)|工作人员|店方|店家|商家|对方|门店|店里|公司|技师|师傅|主管|经理|总监|老板"
          r"|他们|他|她)")
# The other side as an object (跟你们经理说了: the customer speaking), its owner's word between too.
_MARKS = "[跟和对向给与找问被让叫请求把将]"
_OBJECT_MARK = f"(?<!{_MARKS})(?<!{_MARKS}你们)(?<!{_MARKS}你们的)"
# "X said / threatened / told me …": what follows is X's, not the customer's.
_SPEECH = re.compile(
    _OBJECT_MARK + _OTHER + r"(?:的人|人员)?"
    r"(?:都|也|还|却|竟然|居然|就|直接|则|又|更是|一直|反而|当时|口头|明确|电话|当场|甚至|再次|竟|还是)?"
    r"(?:说|称|讲|表示|告知|告诉|回复|答复|回应|威胁|扬言|声称|要求|让|叫|建议|提出|警告|宣称|恐吓|反问|解释|通知)"
    # A speech verb with the subject left out, followed by what it says of the customer.
    r"|(?<![我们人])(?:还|又|却|竟然|居然|甚至|反而)(?:说|称|扬言|声称|威胁|恐吓)|说什么"
    # 扬言 alone is the other side's, unless the customer is named as its subject (客户扬言拉横幅).
    r"|(?<!客户|车主|用户|顾客|买家|本人|家属|家人)(?<![我])(?:扬言|声称)"
    # Someone else's words about the customer: 说我闹事, 诬陷我敲诈.
    r"|(?<![我们])(?:说|称|污蔑|诬陷|诬告|指责|骂)(?=我|本人)")
# The customer taking the word back after the other side's speech, or a condition only the
# customer sets ("不解决就…", "否则…").
_RECLAIM = re.compile(
    r"(?:我|本人|我们|车主|消费者)(?:就|将|会|要|也要|也会|一定|必将|必须|已|已经|准备|打算|决定|只能|只好|立即|马上"
    r"|直接|肯定|还会|坚决|随即|于是|便|才|表示|回复|告诉|只有|当即|当场|选择|不得不)"
    r"|(?:还|再|继续|仍)?不(?:给|予)?(?:解决|处理|退|换|赔|答复|回复|理|管)|否则|不然|要不")
# The other side addressing the customer: "你去起诉吧", "你可以找媒体".
_YOU = re.compile(r"你(?!们)(?:就|可以|尽管|随便|爱|自己|要)?(?:去)?" + NP + r"{0,3}$")
_ACTOR = re.compile(_OBJECT_MARK + _OTHER + r"(?!说|称)" + r"[^,.!?;:，。！？；：\s我]{0,6}$")

# 没过两天又亮了, 没多久又坏: a short time, not a negation.
_NEGATED = re.compile(r"(?:没有(?!多久|几天|过)|并没有|没(?!过|多久|几天|两天|多长|多少天)|未|不会|不想|不愿"
                      r"|不打算|不准备|不是|并非|并未|从未|从没|不曾|不必|不用|无需|无意|暂不|暂时不"
                      r"|还没|尚未|先不|以免|避免|防止)" + NP + r"{0,3}$")
# A negation that only sets the condition of the act: "没人管就报警", "没办法只能起诉".
_CONSEQUENCE = re.compile(r"就|才|只能|只好|只有|便|于是|则")


class Context:
    """One text cut into clauses and sentences, computed once and only when a cue needs it."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._clauses: tuple[list[int], list[int]] | None = None
        self._sentences: tuple[list[int], list[int]] | None = None

    @staticmethod
    def _cut(pattern: re.Pattern[str], text: str) -> tuple[list[int], list[int]]:
        starts, ends = [], []
        for m in pattern.finditer(text):
            starts.append(m.start())
            ends.append(m.end())
        return starts, ends

    def _span(self, bounds: tuple[list[int], list[int]], start: int, end: int) -> tuple[int, int]:
        starts, ends = bounds
        i = bisect_left(starts, start) - 1
        j = bisect_left(starts, end)
        return (ends[i] if i >= 0 else 0), (starts[j] if j < len(starts) else len(self.text))

    def clause(self, start: int, end: int) -> tuple[int, int]:
        """[start, end) of the clause that holds text[start:end], without the spaces around it."""
        if self._clauses is None:
            self._clauses = self._cut(_CLAUSE_END, self.text)
        first, last = self._span(self._clauses, start, end)
        while first < start and self.text[first].isspace():
            first += 1
        while last > end and self.text[last - 1].isspace():
            last -= 1
        return first, last

    def clause_indices(self) -> list[int]:
        """Which clause holds each position of the text (0 for the first; a clause's end mark belongs
        to the next)."""
        if self._clauses is None:
            self._clauses = self._cut(_CLAUSE_END, self.text)
        out: list[int] = []
        previous = 0
        for clause, start in enumerate(self._clauses[0]):  # positions before the clause's end mark
            out += [clause] * (start - previous)
            previous = start
        out += [len(self._clauses[0])] * (len(self.text) - previous)
        return out

    def clause_span(self, index: int) -> tuple[int, int]:
        """[start, end) of clause `index` (`clause_indices`), as `clause` gives it."""
        if self._clauses is None:
            self._clauses = self._cut(_CLAUSE_END, self.text)
        starts, ends = self._clauses
        first = ends[index - 1] if index > 0 else 0
        last = starts[index] if index < len(starts) else len(self.text)
        while first < last and self.text[first].isspace():
            first += 1
        while last > first and self.text[last - 1].isspace():
            last -= 1
        return first, last

    def sentence(self, start: int, end: int) -> tuple[int, int]:
        if self._sentences is None:
            self._sentences = self._cut(_SENTENCE_END, self.text)
        return self._span(self._sentences, start, end)

    def before(self, start: int, end: int, limit: int = 20) -> str:
        """The text of the clause before the match, at most `limit` characters."""
        clause_start = self.clause(start, end)[0]
        return self.text[max(clause_start, start - limit):start]

    def after(self, start: int, end: int, limit: int = 20) -> str:
        clause_end = self.clause(start, end)[1]
        return self.text[end:min(clause_end, end + limit)]

    def negated(self, start: int, end: int) -> bool:
        """没有报警, 不想找媒体; but not 没人管就报警 (the negation is the condition)."""
        m = _NEGATED.search(self.before(start, end, 8))
        return m is not None and not _CONSEQUENCE.search(m.group())

    def said_by_other(self, start: int, end: int) -> bool:
        """The match is inside what the dealer, the maker or their staff said: "4S店说可以找媒体",
        "销售扬言要起诉我", "还说我敲诈要报警", "你去12315投诉吧"."""
        if _YOU.search(self.before(start, end, 8)):
            return True
        sentence_start = self.sentence(start, end)[0]
        window = self.text[max(sentence_start, start - 45):start]
        speech = list(_SPEECH.finditer(window))
        if not speech:
            return False
        quoted = window[speech[-1].end():]
        return len(quoted) <= 30 and not _RECLAIM.search(quoted)

    def done_by_other(self, start: int, end: int) -> bool:
        """The other side is the subject of the clause: "4S店扬言要起诉我", "经销商报警"; unless
        the customer sets the condition ("厂家不解决就起诉")."""
        m = _ACTOR.search(self.before(start, end, 10))
        return m is not None and not _RECLAIM.search(m.group())

    def in_title(self, start: int) -> bool:
        """Inside 《…》: the name of a law or a rule, not an act."""
        opened = self.text.rfind("《", 0, start)
        return opened >= 0 and self.text.rfind("》", opened, start) < 0
