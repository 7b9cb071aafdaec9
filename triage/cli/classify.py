"""`triage classify`, `predict` and `evaluate`: the model on one text, on every row of a file,
and scored on a labelled file."""

from __future__ import annotations

import argparse
import json
import sys
import time
import unicodedata
from collections import Counter
from typing import BinaryIO

from triage.classify.labels import HEADS
from triage.classify.prediction import Prediction
from triage.classify.tagging import predict_stream
from triage.cli.common import (
    EXIT_CODES,
    EXIT_OK,
    EXIT_ROWS_FAILED,
    EXIT_UNUSABLE,
    dump,
    dump_line,
    load_model,
    with_input,
    with_model,
)
from triage.io import RowError


# ---- classify ------------------------------------------------------------------------------
def add_classify(sub: argparse._SubParsersAction) -> None:
    p = with_model(sub.add_parser("classify", help="classify one complaint text"))
    p.add_argument("text", help="the complaint text, or - to read it from standard input")
    p.add_argument("--json", action="store_true", help="print the prediction as JSON")
    p.set_defaults(func=cmd_classify)


def cmd_classify(args: argparse.Namespace) -> int:
    from triage.text.normalize import TextError

    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        pred = load_model(args.model).predict([text])[0]
    except TextError as exc:
        print(f"triage classify: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(dump(pred.to_dict()))
    else:
        print(format_prediction(pred))
    return 0


def format_prediction(p: Prediction) -> str:
    from triage.classify.labels import FLAGS, LABELS

    low = set(p.low_confidence)
    lines = []
    for head in HEADS:
        label = getattr(p, head)
        mark = "  (low confidence: please check)" if head in low else ""
        lines.append(f"{head:<14} {label} {LABELS[head][label]}  p={p.confidence[head]:.2f}{mark}")
    flags = ", ".join(f"{f} {FLAGS[f]} p={p.confidence['flags'][f]:.2f}" for f in p.flags) or "none"
    lines.append(f"{'flags':<14} {flags}")
    near = [h.split(".", 1)[1] for h in p.low_confidence if h.startswith("flags.")]
    if near:
        lines.append(f"{'':<14} near the threshold: {', '.join(near)}")
    for head in HEADS:
        others = ", ".join(f"{a['label']} {a['p']:.2f}" for a in p.alternatives.get(head, ()))
        if others:
            lines.append(f"{'alternatives':<14} {head}: {others}")
    for rule in p.rules:
        lines.append(f"{'rule':<14} {rule}")
    for e in p.evidence:
        where = f"[{e.start}:{e.end}] {e.text!r}"
        lines.append(f"{'evidence':<14} {e.head}={e.label}: {where} ({e.feature}, {e.weight:+.2f})")
    lines.append(f"{'model':<14} {p.model}")
    return "\n".join(lines)


# ---- predict -------------------------------------------------------------------------------
def add_predict(sub: argparse._SubParsersAction) -> None:
    p = with_model(sub.add_parser("predict", help="classify every row of a CSV or JSON Lines file", epilog=EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("input", help="CSV or JSON Lines file with id and text columns; - for standard input")
    p.add_argument("-o", "--output", help="JSON Lines output file (default: standard output)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress line")
    p.add_argument("--summary", action="store_true",
                   help="also print a short table of the results, for a person (to standard output with -o FILE, "
                        "else to standard error)")
    with_input(p)
    p.set_defaults(func=cmd_predict)


class Progress:
    """A progress bar on a terminal's stderr (by bytes read of the file; a running count for
    standard input); silent when stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        from triage.io import ReadProgress

        self.enabled = enabled and sys.stderr.isatty()
        self.read = ReadProgress()
        self.start = time.perf_counter()
        self.last = 0.0

    def update(self, done: int, errors: int, final: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not final and now - self.last < 0.2:
            return
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        bar = ""
        if self.read.total_bytes:
            share = min(1.0, self.read.read_bytes / self.read.total_bytes)
            bar = f"[{'#' * int(share * 30):<30}] {share:4.0%} "
        sys.stderr.write(f"\r{bar}{done:,} rows, {errors:,} errors, {rate:,.0f} rows/s")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


OUTPUT_BUFFER = 1 << 20
"""Bytes `predict` gathers before each write to its output file: a one-liner's record is over a
kilobyte, and the default 8 KB made one system call every six records."""


def cmd_predict(args: argparse.Namespace) -> int:
    import gc

    from triage.io import InputError

    model = load_model(args.model)
    # The model's many long-lived objects (its feature names, the word table) out of the
    # collector's full passes, which every batch's predictions set off: 8 % of a one-liner's
    # time, which paid for the alternatives every prediction now carries.
    gc.freeze()
    # A batch's predictions hold no reference cycles (a bad row's exception a few) and are freed
    # once written: the collector's passes over them, every 700 new objects by default, found
    # nothing and cost 7 % of a one-liner's time. It now runs once 100,000 more objects are alive
    # than were freed, which a batch (tagging.BATCH rows at most) seldom reaches; memory stays
    # bounded all the same.
    gc.set_threshold(100_000, 10, 10)
    to_stdout = args.output in (None, "-")
    out: BinaryIO = sys.stdout.buffer if to_stdout else open(args.output, "wb", buffering=OUTPUT_BUFFER)  # noqa: SIM115
    progress = Progress(not args.quiet)
    summary = Summary() if args.summary else None
    done = errors = 0
    try:
        for _, result in predict_stream(model, args.input, args.format, args.encoding, progress.read):
            done += 1
            if isinstance(result, RowError):
                errors += 1
                print(f"triage predict: {result.error}", file=sys.stderr)
            out.write(dump_line(result))
            progress.update(done, errors)
            if summary is not None:
                summary.add(result)
    except InputError as exc:
        print(f"triage predict: {args.input}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    finally:
        if to_stdout:
            out.flush()
        else:
            out.close()
    progress.update(done, errors, final=True)
    if summary is not None:
        print(summary.text(None if to_stdout else args.output), file=sys.stderr if to_stdout else sys.stdout)
    if errors:
        print(f"triage predict: {errors} of {done} rows could not be read (see the errors above)", file=sys.stderr)
    return EXIT_ROWS_FAILED if errors else EXIT_OK


class Summary:
    """A short table of what `predict` found, for a person: the first rows one by one, then
    the counts. Constant memory, like the rest of `predict`."""

    SHOWN = 20

    def __init__(self) -> None:
        self.rows: list[Prediction | RowError] = []
        self.total = self.errors = 0
        self.severity: Counter[str] = Counter()
        self.flags: Counter[str] = Counter()

    def add(self, result: Prediction | RowError) -> None:
        self.total += 1
        if len(self.rows) < self.SHOWN:
            self.rows.append(result)
        if isinstance(result, RowError):
            self.errors += 1
            return
        self.severity[result.severity] += 1
        self.flags.update(result.flags)

    def text(self, where: str | None) -> str:
        from triage.classify.labels import FLAGS, LABELS

        head = f"{self.total} complaints classified, {self.errors} could not be read"
        lines = [head + (f"; the JSON Lines are in {where}" if where else "")]
        table = [("id", "business line", "category", "severity", "flags")]
        for r in self.rows:
            if isinstance(r, RowError):
                table.append((r.id or f"row {r.row}", "error: " + r.error, "", "", ""))
            else:
                table.append((r.id, LABELS["business_line"][r.business_line], LABELS["category"][r.category],
                              LABELS["severity"][r.severity], "、".join(FLAGS[f] for f in r.flags) or "—"))
        widths = [max(_width(row[i]) for row in table) + 2 for i in range(4)]
        lines += ["  " + "".join(_pad(cell, w) for cell, w in zip(row, widths)) + row[4] for row in table]
        if self.total > len(self.rows):
            lines.append(f"  … and {self.total - len(self.rows)} more")
            sev = ", ".join(f"{LABELS['severity'][k]} {n}" for k, n in self.severity.most_common())
            flags = ", ".join(f"{FLAGS[k]} {n}" for k, n in self.flags.most_common()) or "none"
            lines.append(f"  severity: {sev}; flags: {flags}")
        return "\n".join(lines)


def _width(text: str) -> int:
    """Columns on a terminal: Chinese characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(1, width - _width(text))


# ---- evaluate ------------------------------------------------------------------------------
def add_evaluate(sub: argparse._SubParsersAction) -> None:
    p = with_model(sub.add_parser("evaluate", help="score the model on a labelled file", epilog=EXIT_CODES,
                                  formatter_class=argparse.RawDescriptionHelpFormatter))
    p.add_argument("file", help="labelled CSV or JSON Lines file (shared/spec/labels-and-data-format.md)")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--intervals", action="store_true",
                   help="each figure's 95 %% bootstrap interval over the file's rows (how sure it is)")
    p.add_argument("--against", metavar="MODEL",
                   help="a second model of the registry scored on the same rows: the differences, each with "
                        "its 95 %% paired bootstrap interval (is the new model better, or is it noise?)")
    with_input(p)
    p.set_defaults(func=cmd_evaluate)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from triage.classify.bootstrap import DRAWS, paired, spread
    from triage.classify.evaluate import format_differences, format_report, format_spread, score, scored_file
    from triage.io import InputError

    model = load_model(args.model)
    other = load_model(args.against) if args.against else None
    try:
        (rows, *other_rows), errors = scored_file(  # one reading of the file for both models
            model, args.file, args.format, args.encoding, others=[other] if other else [],
            on_error=lambda message: print(f"triage evaluate: {message}", file=sys.stderr))
    except InputError as exc:
        print(f"triage evaluate: {args.file}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    result = score(rows)
    intervals = spread(rows) if args.intervals and rows else {}
    differences = paired(other_rows[0], rows) if other and rows else {}  # this model minus the other
    if args.json:
        if args.intervals:
            result["intervals"] = {"/".join(k): list(v) for k, v in intervals.items()}
        if other:
            result["against"] = {"model": other.version, "figures": score(other_rows[0]), "differences": {
                "/".join(k): {"difference": i.difference, "low": i.low, "high": i.high, "clear": i.clear}
                for k, i in differences.items()}}
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(format_report(result))
        if args.intervals:
            print(format_spread(result, intervals, DRAWS))
        if other:
            print(format_differences(other.version, len(rows), differences))
    if errors:
        print(f"triage evaluate: {errors} rows skipped (see the errors above)", file=sys.stderr)
    return EXIT_ROWS_FAILED if errors else EXIT_OK
