"""Build the jieba user dictionary triage/text/automotive_dict.txt.

Brands and series come from the real data's brand/series columns (only those that occur
in the complaint texts); parts, faults, roles, dealership terms and fixed expressions are
the hand-written lists in training/data/lexicon/*.txt (one term per line).

    python -m training.build_dictionary
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from training.dataset import REAL_CSV

LEXICON = Path(__file__).parent / "data" / "lexicon"
OUT = Path(__file__).parent.parent / "triage" / "text" / "automotive_dict.txt"

# (file, frequency, part-of-speech tag): higher frequency keeps a term whole.
_LISTS = [("parts.txt", 3000, "n"), ("faults.txt", 5000, "v"), ("roles_terms.txt", 4000, "n"),
          ("expressions.txt", 20000, "l")]


def brands_and_series() -> list[str]:
    with REAL_CSV.open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    texts = "\n".join(r["text"] for r in rows)
    names = {r[c].strip() for r in rows for c in ("brand", "series")}
    # Drop spaces (jieba splits on them) and keep only names the texts really use.
    names = {re.sub(r"\s+", "", n) for n in names if n}
    return sorted(n for n in names if len(n) >= 2 and n in texts)


def build() -> list[str]:
    seen: set[str] = set()
    lines = []
    for term in brands_and_series():
        seen.add(term)
        lines.append(f"{term} 8000 nz")
    for name, freq, tag in _LISTS:
        for term in (LEXICON / name).read_text(encoding="utf-8").split():
            if term and term not in seen:
                seen.add(term)
                lines.append(f"{term} {freq} {tag}")
    return lines


if __name__ == "__main__":
    lines = build()
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} entries to {OUT}")
