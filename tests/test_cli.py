"""The command-line contract, run as a real process: classify, predict, evaluate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(small_registry):
    def _run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
        env = {**os.environ, "TRIAGE_MODELS_DIR": str(small_registry)}
        r = subprocess.run([sys.executable, "-m", "triage.cli", *args], input=stdin, capture_output=True,
                           env=env, cwd=ROOT, timeout=120)
        return subprocess.CompletedProcess(r.args, r.returncode, r.stdout.decode(), r.stderr.decode())
    return _run


def test_classify_json(run):
    r = run("classify", "东风日产天籁行驶中刹车失灵，我已经报警了", "--json")
    assert r.returncode == 0, r.stderr
    p = json.loads(r.stdout)
    assert p["business_line"] in ("sales", "after_sales")
    assert set(p["confidence"]) == {"business_line", "category", "severity", "flags"}
    assert p["model"] == "test-small"


def test_classify_text_and_empty(run):
    r = run("classify", "4S店服务态度恶劣")
    assert r.returncode == 0 and "category" in r.stdout and "evidence" in r.stdout
    r = run("classify", "   ")
    assert r.returncode == 2 and "empty" in r.stderr


def test_predict_file_with_bad_rows(run, tmp_path):
    src = tmp_path / "in.csv"
    src.write_bytes("id,text\n1,发动机异响\n2,\n3,".encode() + "刹车失灵".encode("gbk") + b"\n"
                    + "4,\"多行\n文本\"\n5,变速箱顿挫\n".encode())
    out = tmp_path / "out.jsonl"
    r = run("predict", str(src), "-o", str(out))
    assert r.returncode == 1, r.stderr  # some rows failed: 1, though most were classified
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert "error" in rows[1] and "row 2" in rows[1]["error"] and "empty" in rows[1]["error"]
    assert "error" in rows[2] and "GBK" in rows[2]["error"]
    assert {"business_line", "category", "severity", "flags", "confidence", "evidence"} <= set(rows[4])
    assert "row 2" in r.stderr and "2 of 5 rows" in r.stderr


def test_predict_a_lone_surrogate_is_one_rows_error_not_the_end_of_the_file(run, tmp_path):
    src = tmp_path / "in.jsonl"
    # json.dumps escapes the surrogate, as a JSON writer that took the text from a wrong decoding would.
    src.write_text("\n".join(json.dumps({"id": str(i), "text": t})
                             for i, t in enumerate(["发动机异响", "刹车\ud800失灵", "变速箱顿挫"], 1)) + "\n")
    r = run("predict", str(src), "-q")
    assert r.returncode == 1, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["1", "2", "3"]
    assert "category" in rows[0] and "category" in rows[2]
    assert "lone surrogate" in rows[1]["error"] and "1 of 3 rows" in r.stderr


def test_predict_a_file_with_an_unclosed_quote_loses_no_row_and_says_so(run, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text('id,text\n1,发动机异响\n2,"刹车失灵\n3,空调不制冷\n4,变速箱顿挫\n', encoding="utf-8")
    r = run("predict", str(src), "-q")
    assert r.returncode == 1
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert [row["id"] for row in rows] == ["1", "2", "3", "4"]
    assert "error" in rows[1] and "error" not in rows[2] and "error" not in rows[3]
    assert "line 3" in r.stderr and "never closed" in r.stderr and "1 of 4 rows" in r.stderr


def test_exit_codes_are_documented(run):
    for command in ([], ["predict"], ["evaluate"], ["intake"]):
        r = run(*command, "--help")
        assert r.returncode == 0 and "1  some rows could not be read" in r.stdout, command


def test_predict_stdin_jsonl(run):
    lines = "\n".join(json.dumps({"id": f"t{i}", "text": t}, ensure_ascii=False)
                      for i, t in enumerate(["客户：修了三次还没好\n客服：抱歉", "合同没写的费用"]))
    r = run("predict", "-", "--format", "jsonl", stdin=lines.encode())
    assert r.returncode == 0, r.stderr
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == ["t0", "t1"]


def test_predict_unreadable_file(run, tmp_path):
    r = run("predict", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "no such file" in r.stderr


def test_evaluate_json_shape(run, tmp_path):
    src = tmp_path / "gold.csv"
    src.write_text(
        "id,text,business_line,category,severity,flags\n"
        "1,大众朗逸发动机异响,after_sales,product_quality,grumble,none\n"
        "2,4S店销售加价提车,销售,服务类|其它类,投诉,none\n"
        "3,行驶中刹车失灵,售后,product_quality,major,safety\n"
        "4,未标注的行,,,,\n"
        "5,坏标签,after_sales,nonsense,,\n", encoding="utf-8")
    r = run("evaluate", str(src), "--json")
    assert r.returncode == 1, r.stderr  # row 5 was skipped
    res = json.loads(r.stdout)
    assert res["rows"] == 4
    assert res["business_line"]["n"] == 3 and res["category"]["n"] == 3 and res["severity"]["n"] == 3
    assert set(res["business_line"]["per_class"]["after_sales"]) == {"precision", "recall", "f1", "n"}
    assert set(res["major"]) == {"n", "precision", "recall"}
    assert res["flags"]["n"] == 3
    assert set(res["flags"]["per_flag"]["safety"]) >= {"precision", "recall", "f1", "support"}
    assert "row 5" in r.stderr and "nonsense" in r.stderr
    r = run("evaluate", str(src))
    assert r.returncode == 1 and "accuracy" in r.stdout and "macro_f1" in r.stdout and "1 rows skipped" in r.stderr
    src.write_text("\n".join(src.read_text(encoding="utf-8").splitlines()[:-1]) + "\n", encoding="utf-8")
    assert run("evaluate", str(src), "--json").returncode == 0


def _gold_file(path: Path, n: int = 120) -> Path:
    """Real held-out narratives in the labelled-data format."""
    import csv

    from training import dataset

    rows = [e for e in dataset.real_examples() if e.split == "test" and e.register == "narrative"][:n]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "business_line", "category", "severity", "flags"])
        for e in rows:
            flags = "" if any(v is None for v in e.flags.values()) else "|".join(k for k, v in e.flags.items() if v)
            w.writerow([e.id, e.text, *("|".join(e.gold.get(h) or ()) for h in ("business_line", "category",
                                                                               "severity")), flags or "none"])
    return path


def test_evaluate_with_intervals_and_against_a_second_model(small_registry, small_examples_refit, tmp_path):
    """--intervals gives each figure's bootstrap interval; --against scores a second model on the same
    rows and gives this model minus that one, with its paired interval."""
    import shutil

    root = tmp_path / "registry"
    shutil.copytree(small_registry, root)
    hashes = small_examples_refit.save(root / "test-other")
    (root / "test-other" / "card.json").write_text(json.dumps({"version": "test-other", "artifacts": hashes}))
    src = _gold_file(tmp_path / "gold.csv")
    env = {**os.environ, "TRIAGE_MODELS_DIR": str(root)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "triage.cli", "evaluate", str(src), *args], capture_output=True,
                              text=True, env=env, cwd=ROOT, timeout=120)

    r = run("--json", "--intervals", "--against", "test-other")
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert res["rows"] == 120 and res["against"]["model"] == "test-other"
    assert len(res["intervals"]) > 20
    bl = res["business_line"]["accuracy"]
    low, high = res["intervals"]["business_line/accuracy"]
    assert low <= bl <= high and high - low > 0.02  # 120 rows: a few points either way
    theirs = res["against"]["figures"]
    moved = 0
    for key, d in res["against"]["differences"].items():
        head, *rest = key.split("/")
        if rest == ["accuracy"]:
            assert d["difference"] == pytest.approx(res[head]["accuracy"] - theirs[head]["accuracy"], abs=2e-4), key
            assert d["low"] <= d["difference"] <= d["high"]
            moved += d["difference"] != 0
    assert moved, "the two models should differ somewhere on 120 narratives"
    r = run("--intervals", "--against", "test-other")
    assert r.returncode == 0 and "95 % intervals" in r.stdout and "against test-other, on the same 120 rows" in r.stdout
    r = run("--against", "no-such-model")
    assert r.returncode == 2 and r.stdout == "" and "no model 'no-such-model'" in r.stderr


def test_policy_check(run, tmp_path):
    r = run("policy", "check", str(ROOT / "triage/policy/default.yaml"))
    assert r.returncode == 0 and "OK" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text((ROOT / "triage/policy/default.yaml").read_text(encoding="utf-8")
                   .replace("limit: 30 minutes", "limit: half an hour")
                   .replace("responsible: retail_manager", "responsible: nobody"), encoding="utf-8")
    r = run("policy", "check", str(bad))
    assert r.returncode == 1
    assert "half an hour" in r.stderr and "unknown role 'nobody'" in r.stderr


def test_route_prints_every_deadline(run):
    r = run("route", "东风日产天籁行驶中刹车失灵，我要找记者曝光", "--channel", "oem_ticket",
            "--at", "2026-09-30 23:59", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    decision = out["decision"]
    assert decision["responsible"]
    clocks = {c["id"]: c for c in decision["clocks"]}
    assert clocks["oem_first_response"]["deadline"] == "2026-10-01T00:29:00+08:00"
    assert all(c["deadline"] is None or c["deadline"].endswith("+08:00") for c in clocks.values())
    r = run("route", "发动机异响", "--channel", "phone", "--at", "yesterday")
    assert r.returncode == 2 and "not a time" in r.stderr
    r = run("route", "发动机异响", "--channel", "carrier_pigeon", "--at", "2026-11-23 10:00")
    assert r.returncode == 2 and "unknown channel" in r.stderr


def test_user_add_and_intake_a_file_as_cases(run, tmp_path):
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from triage.auth.models import Account
    from triage.case.models import Case

    db = f"sqlite:///{tmp_path / 'cases.db'}"
    r = run("user", "add", "care", "--role", "customer_care", "--name", "李关爱", "--password-stdin", "--db", db,
            stdin=b"correct-horse-9\n")
    assert r.returncode == 0, r.stderr
    r = run("user", "add", "care", "--role", "handler", "--password-stdin", "--db", db, stdin=b"correct-horse-9\n")
    assert r.returncode == 2 and "已存在" in r.stderr
    r = run("user", "add", "h2", "--role", "handler", "--password-stdin", "--db", db, stdin=b"short\n")
    assert r.returncode == 2 and "密码至少" in r.stderr
    r = run("user", "add", "h3", "--role", "handler", "--db", db, stdin=b"")  # no terminal, no --password-stdin
    assert r.returncode == 2 and "--password-stdin" in r.stderr and "Traceback" not in r.stderr
    source = tmp_path / "oem.csv"
    source.write_text("id,text,channel,received_at\nT1,刹车失灵很危险,oem_ticket,2026-11-20T09:00:00+08:00\n"
                      "T2,,oem_ticket,\nT3,销售顾问态度差,nowhere,\nT4,空调不制冷,,2026-11-20 09:00\n",
                      encoding="utf-8")
    r = run("intake", str(source), "--channel", "phone", "--db", db)
    assert r.returncode == 1, r.stderr  # three rows failed, one case was recorded
    assert r.stdout.strip() == "1 cases created, 0 already there, 3 errors"
    assert "row 2 (T2)" in r.stderr and "nowhere" in r.stderr and "timezone" in r.stderr
    r = run("intake", str(source), "--channel", "phone", "--db", db)
    assert r.stdout.startswith("0 cases created, 1 already there")  # idempotent on (channel, id)
    with Session(create_engine(db)) as s:
        case = s.scalar(select(Case))
        assert (case.external_id, case.state, case.channel) == ("T1", "suggested", "oem_ticket")
        assert "safety" in case.suggestion["labels"]["flags"]
        assert s.scalar(select(Account.role).where(Account.username == "care")) == "customer_care"


def test_worker_once_prints_a_summary_and_keeps_library_logs_quiet(run, tmp_path):
    db = f"sqlite:///{tmp_path / 'cases.db'}"
    source = tmp_path / "old.csv"
    source.write_text("id,text,channel,received_at\nT1,销售顾问态度差,phone,2026-01-05T09:00:00+08:00\n",
                      encoding="utf-8")
    assert run("intake", str(source), "--db", db).returncode == 0
    r = run("worker", "--once", "--db", db)
    assert r.returncode == 0, r.stderr
    counts = {line[:16].strip(): int(line[16:]) for line in r.stdout.splitlines() if not line.startswith("case ")}
    assert counts["cases checked"] == 1 and counts["breaches"] >= 1 and counts["warnings"] == 0
    assert counts["breaches"] == counts["escalations"] + counts["notifications"] + counts["closes"]
    assert "clock handover: breach" in r.stdout
    assert "alembic" not in r.stderr and "Context impl" not in r.stderr
    r = run("worker", "--once", "--db", db)  # nothing new to do
    assert "breaches              0" in r.stdout
    assert "alembic" in run("worker", "--once", "-v", "--db", db).stderr


def test_setup_ends_with_a_table_for_a_person_and_keeps_the_json_lines(run, tmp_path):
    """scripts/setup.sh, the README's first command, ended in raw JSON lines."""
    script = (ROOT / "scripts/setup.sh").read_text().splitlines()
    line = next(x for x in script if x.startswith(".venv/bin/triage predict"))
    args = line.split("triage", 1)[1].split()
    out = tmp_path / "examples.jsonl"
    r = run(*(str(out) if a == "var/examples.jsonl" else a for a in args))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"5 complaints classified, 0 could not be read; the JSON Lines are in {out}"
    assert lines[1].split() == ["id", "business", "line", "category", "severity", "flags"]
    assert [x.split()[0] for x in lines[2:]] == ["ex-1", "ex-2", "ex-3", "ex-4", "ex-5"]
    assert "人身安全" in lines[2] and "{" not in r.stdout
    written = out.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in written] == [f"ex-{i}" for i in range(1, 6)]


def test_predict_summary_of_a_long_file_counts_the_rest(run, tmp_path):
    src = tmp_path / "many.csv"
    src.write_text("id,text\n" + "".join(f"{i},刹车失灵很危险\n" for i in range(25)) + "25,\n", encoding="utf-8")
    r = run("predict", str(src), "-q", "--summary")
    assert r.returncode == 1
    assert len(r.stdout.splitlines()) == 26  # the JSON Lines; the table went to standard error
    assert "26 complaints classified, 1 could not be read" in r.stderr and "… and 6 more" in r.stderr
    assert "severity: 重大投诉 25; flags: 人身安全 25" in r.stderr


def test_json_lines_are_written_as_the_prediction_says(small_model):
    """`predict` writes each record with orjson straight from the Prediction (or RowError):
    byte for byte what json.dumps of its to_dict wrote."""
    from triage.cli.common import dump, dump_line
    from triage.io import RowError

    texts = ["行驶中刹车失灵，已经报警了，修了三次", "车牌粤B12345 电话13812345678 \"引号\" \\反斜杠\\",
             "控制\x01\x1f字符\t制表\u2028分隔", "😀 emoji ＡＢＣ", "ABC"]
    records = [*small_model.predict(texts), RowError("id\"1", 3, "row 3: 坏的\n行")]
    for r in records:
        assert dump_line(r) == (dump(r.to_dict()) + "\n").encode("utf-8")
