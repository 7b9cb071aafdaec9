"""Bad rows get a clear error naming the row; the rest of the file is still read."""

import json

import pytest

from triage.io import InputError, RowError, read_rows


def _split(rows):
    good = [r for r in rows if not isinstance(r, RowError)]
    bad = [r for r in rows if isinstance(r, RowError)]
    return good, bad


def test_csv_with_broken_rows(tmp_path):
    p = tmp_path / "in.csv"
    lines = [
        b"id,text,category",
        "1,大众朗逸异响,product_quality".encode(),
        "2,多了一列,service,extra".encode(),
        "3,変速箱顿挫".encode() + b",",  # fine
        ",没有编号,other".encode(),
        b"5," + "国产车刹车失灵".encode("gbk") + b",",
        b"6,\x00\x01\x02binary,",
        '7,"多行\n文本，带逗号,没问题",service'.encode(),
        "8,最后一行,service".encode(),
    ]
    p.write_bytes(b"\n".join(lines) + b"\n")
    good, bad = _split(list(read_rows(str(p))))
    assert [r.id for r in good] == ["1", "3", "7", "8"]
    assert good[2].text == "多行\n文本，带逗号,没问题"
    assert good[0].fields["category"] == "product_quality"
    errors = {e.row: e.error for e in bad}
    assert set(errors) == {2, 4, 5, 6}
    assert "2 fields" not in errors[2] and "4 fields where the header has 3" in errors[2]
    assert "id is empty" in errors[4]
    assert "GBK" in errors[5] and "row 5" in errors[5]
    assert "row 6" in errors[6]


def test_gbk_file_reads_with_encoding(tmp_path):
    p = tmp_path / "gbk.csv"
    p.write_bytes("id,text\n1,刹车失灵要求退车\n".encode("gbk"))
    good, bad = _split(list(read_rows(str(p), encoding="gbk")))
    assert not bad and good[0].text == "刹车失灵要求退车"


def test_jsonl_with_broken_lines(tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text("\n".join([
        json.dumps({"id": "a", "text": "异响"}, ensure_ascii=False),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "d", "text": 42}),
        "",
        json.dumps({"id": 5, "text": "数字编号也行", "channel": "phone"}, ensure_ascii=False),
    ]), encoding="utf-8")
    good, bad = _split(list(read_rows(str(p))))
    assert [(r.id, r.fields.get("channel")) for r in good] == [("a", None), ("5", "phone")]
    assert [e.row for e in bad] == [2, 3, 4]
    assert "not valid JSON" in bad[0].error


def test_huge_field_is_read_and_left_to_the_text_check(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text("id,text\n1," + "长" * 1_000_000 + "\n2,正常\n", encoding="utf-8")
    good, bad = _split(list(read_rows(str(p))))
    assert [r.id for r in good] == ["1", "2"] and not bad


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    ("编号,内容\n1,2\n".encode(), "no id or text column"),
])
def test_unreadable_files(tmp_path, content, message):
    p = tmp_path / "x.csv"
    p.write_bytes(content)
    with pytest.raises(InputError, match=message):
        list(read_rows(str(p)))


def test_missing_file():
    with pytest.raises(InputError, match="no such file"):
        list(read_rows("/nonexistent/file.csv"))


def test_progress_counts_the_bytes_read(tmp_path):
    from triage.io import ReadProgress

    p = tmp_path / "in.csv"
    p.write_text("id,text\n" + "".join(f"{i},第{i}条投诉\n" for i in range(50)), encoding="utf-8")
    progress = ReadProgress()
    rows = read_rows(str(p), progress=progress)
    next(rows)
    assert progress.total_bytes == p.stat().st_size and 0 < progress.read_bytes < progress.total_bytes
    list(rows)
    assert progress.read_bytes == progress.total_bytes


def test_an_unclosed_quote_is_a_malformed_row_and_the_rows_after_it_are_still_read(tmp_path):
    """csv's lenient reading lets a stray quote swallow the rest of the file into one row."""
    p = tmp_path / "in.csv"
    p.write_text('id,text\n1,发动机异响\n2,"刹车失灵\n3,空调不制冷\n4,变速箱顿挫\n', encoding="utf-8")
    rows = list(read_rows(str(p)))
    good, bad = _split(rows)
    assert [r.id for r in good] == ["1", "3", "4"] and good[1].text == "空调不制冷"
    assert [(e.id, e.row) for e in bad] == [("2", 2)]
    assert "line 3" in bad[0].error and "never closed" in bad[0].error and "end of the file" in bad[0].error
    assert [r.row for r in rows] == [1, 2, 3, 4]


def test_a_stray_quote_closed_by_a_later_quote_swallows_nothing(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('id,text\n1,"刹车失灵\n2,空调不制冷\n3,"他说""没问题"""\n4,最后\n', encoding="utf-8")
    good, bad = _split(list(read_rows(str(p))))
    assert [(r.id, r.text) for r in good] == [("2", "空调不制冷"), ("3", '他说"没问题"'), ("4", "最后")]
    assert [e.row for e in bad] == [1] and "line 2" in bad[0].error and "not closed properly" in bad[0].error


def test_a_last_line_with_an_open_quote_is_reported(tmp_path):
    p = tmp_path / "in.csv"
    p.write_bytes('id,text\n1,正常\n2,"没有结尾'.encode())
    good, bad = _split(list(read_rows(str(p))))
    assert [r.id for r in good] == ["1"] and [(e.id, e.row) for e in bad] == [("2", 2)]


def test_well_formed_quoting_over_several_lines_still_reads(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('id,text\n1,"客服：您好\n客户：修了三次, 还是""顿挫"""\n2,"ab"c\n', encoding="utf-8")
    good, bad = _split(list(read_rows(str(p))))
    assert not bad and [r.text for r in good] == ['客服：您好\n客户：修了三次, 还是"顿挫"', "abc"]


def test_a_header_with_an_open_quote_cannot_be_read(tmp_path):
    p = tmp_path / "in.csv"
    p.write_text('id,"text\n1,刹车失灵\n', encoding="utf-8")
    with pytest.raises(InputError, match="never closed"):
        list(read_rows(str(p)))
