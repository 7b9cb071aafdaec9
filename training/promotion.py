"""Whether a newly trained model replaces the served one.

`triage train` compares the new model with the current one on the same held-out real rows
(training.compare.against). A retraining on the reviewers' corrections should not quietly serve
a model that finds fewer urgent cases or reads more complaints wrongly: when the rows tell the
new model apart as worse on a guarded figure, it is written to the registry but not made
current, and the run says which figures held it back. A person can still make it current
(`triage models use NAME`, or `triage train --current`).

The guarded figures are the ones a dealership cannot trade away: each head's accuracy, the
recall of major complaints, and the recall of every flag (each raises a case's severity or
sends a notification). Per-class recall and precision of the heads are not guarded: they move
against each other with every decision bias (a model that finds more sales complaints files a
few after-sales ones under sales), and the card lists them all.
"""

from __future__ import annotations

from typing import Any

from triage.classify.bootstrap import Key, label
from triage.classify.labels import FLAGS

GUARDED: tuple[Key, ...] = (
    ("business_line", "accuracy"), ("category", "accuracy"), ("severity", "accuracy"), ("major", "recall"),
    *(("flags", flag, "recall") for flag in FLAGS))


def held_back_by(by_register: dict[str, Any]) -> list[str]:
    """The guarded figures on which the new model is worse beyond noise (the upper end of its
    paired 95 % interval below zero), per register, as `compare.against` gives them; empty when
    it may be made current."""
    out = []
    for register, compared in by_register.items():
        for key in GUARDED:
            difference = compared["differences"].get("/".join(key))
            if difference is not None and difference[2] is not None and difference[2] < 0:
                change, low, high = difference
                out.append(f"{register} {label(key)} {change:+.3f} [{low:+.3f}, {high:+.3f}]")
    return out


def decide(make_current: bool | None, replaced: dict[str, Any] | None) -> dict[str, Any]:
    """The card's "promotion": whether the new model is made current, why, and the guarded figures
    that held it back. `make_current` None is the gate; True and False are a person's decision
    (`--current`, `--no-current`), which the card records beside what the gate found.
    `replaced`: train.against_current's answer, None when there was no current model to compare."""
    held = held_back_by(replaced["by_register"]) if replaced else []
    if make_current is None:
        return {"made_current": not held, "decided_by": "gate", "held_back_by": held,
                "against": replaced["model"] if replaced else None}
    return {"made_current": make_current, "decided_by": "--current" if make_current else "--no-current",
            "held_back_by": held, "against": replaced["model"] if replaced else None}


def reason(decision: dict[str, Any]) -> str:
    """Why `triage train` made its model current, for the registry's history."""
    if decision["decided_by"] == "--current":
        return "triage train --current" + (f", although worse than {decision['against']}" if decision["held_back_by"]
                                           else "")
    if decision["against"] is None:
        return "triage train: the first model of the registry"
    return f"triage train: the gate found no guarded figure worse than {decision['against']}"
