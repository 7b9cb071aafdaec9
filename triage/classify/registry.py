"""The model registry: one folder per trained model, CURRENT naming the one to serve, and
HISTORY.jsonl recording every change of CURRENT (when, from which model, who, why).

Each folder holds its artifact files, `model.json` and the model card (`card.json`, with
the SHA-256 of every artifact file, checked at load; `card.md` for people). The card's
"backend" says how to load it: "sklearn" (model.npz + model.json), "transformer"
(model.safetensors + model.json + tokenizer; needs the transformer extra, imported only
then), "onnx" (the transformer exported: model.onnx + heads.npz + vocab.json + model.json,
served by onnxruntime without torch) or "ensemble" (model.json naming member folders of the same registry).

The registry is a folder of data: `$TRIAGE_MODELS_DIR`, else the folder a wheel carries
(the current model only, see setup.py), else `models/` of this checkout.
"""

from __future__ import annotations

import fcntl
import getpass
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

CARD = "card.json"
CONFIG = "model.json"
CURRENT = "CURRENT"
HISTORY = "HISTORY.jsonl"
BACKENDS = ("sklearn", "transformer", "onnx", "ensemble")
CHECKOUT_REGISTRY = Path(__file__).resolve().parents[2] / "models"
WHEEL_REGISTRY = Path(__file__).resolve().parent / "shipped"
"""Where setup.py's build puts CURRENT and the model it names, inside the wheel."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


class RegistryError(LookupError):
    """No such model, or no current model."""


class ModelError(RuntimeError):
    """A model folder that is missing, incomplete or altered since it was written."""


# ---- where models are ----------------------------------------------------------------------
def registry_dir() -> Path:
    if "TRIAGE_MODELS_DIR" in os.environ:
        return Path(os.environ["TRIAGE_MODELS_DIR"])
    return WHEEL_REGISTRY if (WHEEL_REGISTRY / CURRENT).exists() else CHECKOUT_REGISTRY


def list_models(root: Path | None = None) -> list[str]:
    root = root or registry_dir()
    return sorted(p.name for p in root.iterdir() if (p / CARD).exists()) if root.exists() else []


def current_name(root: Path | None = None) -> str:
    path = (root or registry_dir()) / CURRENT
    try:
        name = path.read_text(encoding="utf-8").strip()
    except OSError:
        raise RegistryError(f"no current model: {path} is missing (run `triage train`)") from None
    if not _NAME.match(name):
        raise RegistryError(f"{path} names {name!r}, which is not a model folder name")
    return name


def current_or_none(root: Path | None = None) -> str | None:
    """The current model's name, or None when the registry has none (yet)."""
    try:
        return current_name(root)
    except RegistryError:
        return None


def model_dir(name: str | None = None, root: Path | None = None) -> Path:
    root = root or registry_dir()
    name = name or current_name(root)
    if not _NAME.match(name):
        raise RegistryError(f"{name!r} is not a model name")
    folder = root / name
    if not (folder / CARD).exists():
        raise RegistryError(f"no model {name!r} in {root} (have: {', '.join(list_models(root)) or 'none'})")
    return folder


def set_current(name: str, root: Path | None = None, by: str | None = None, reason: str = "",
                unless_current: bool = False) -> str | None:
    """Make `name` the served model: CURRENT is replaced atomically, so a reader sees the old
    name or the new one, never a half-written file. The change is kept in HISTORY (`history`):
    when, which model before and after, who (`by`; default: the operating-system user) and why.
    Switches are serialised by a lock on the registry, so each history line's "before" is the
    line above's model. With `unless_current`, nothing changes (nor is recorded) when `name` is
    already current. Returns the model current before."""
    root = root or registry_dir()
    model_dir(name, root)
    with (root / f".{CURRENT}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        before = current_or_none(root)
        if unless_current and before == name:
            return before
        tmp = root / f".{CURRENT}.{os.getpid()}.tmp"
        tmp.write_text(name + "\n", encoding="utf-8")
        tmp.replace(root / CURRENT)
        record = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "model": name, "before": before,
                  "by": by or _os_user(), "reason": reason}
        with (root / HISTORY).open("a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return before


def history(root: Path | None = None) -> list[dict[str, Any]]:
    """Every change of the served model kept in HISTORY, oldest first (a line that cannot be read
    is skipped: the file is a record, not something the service depends on)."""
    path = (root or registry_dir()) / HISTORY
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # a container user without a passwd entry
        return f"uid {os.getuid()}"


def card(name: str | None = None, root: Path | None = None) -> dict[str, Any]:
    return json.loads((model_dir(name, root) / CARD).read_text(encoding="utf-8"))


SMOKE_TEXT = "行驶中刹车失灵，4S店修了三次还没修好"


def use(name: str, root: Path | None = None, by: str | None = None) -> str | None:
    """Serve `name` from now on (a server takes it up within ModelLoader.recheck seconds), or roll
    back to it. It is loaded first, its files checked against its card, and one complaint is
    classified with it, so that a model that cannot serve here is never named current. Returns the
    model served before (None when there was none)."""
    root = root or registry_dir()
    model_dir(name, root)  # an unknown name is a RegistryError, not "cannot be served"
    try:
        load_from(root, name).predict([SMOKE_TEXT])
    except Exception as exc:  # whatever stops it (files altered, torch missing, a card that is not JSON)
        raise ModelError(f"{name} cannot be served here: {exc}") from exc
    return set_current(name, root, by=by, reason="checked and made current by a person", unless_current=True)


MODEL_FIGURES = (("business_line", "accuracy"), ("category", "accuracy"), ("severity", "accuracy"),
                 ("major", "recall"))
"""The figures `summaries` gives of each model's held-out real rows, per register."""


def summaries(root: Path | None = None) -> list[dict[str, Any]]:
    """Every model of the registry, oldest first: its name, backend, when it was trained, whether it
    is current, whether `triage train` made it current (its card's promotion), and the held-out
    figures of its card per register (None where the card has none: cards older than the
    registers)."""
    from triage.classify.bootstrap import flatten  # numpy: not on the path of a bare `triage --help`

    root = root or registry_dir()
    current = current_or_none(root)
    out = []
    for name in list_models(root):
        try:
            c = card(name, root)
        except (OSError, ValueError) as exc:
            out.append({"name": name, "current": name == current, "error": f"unreadable card: {exc}"})
            continue
        ev = c.get("evaluation", {})
        figures = {}
        for register, result in ev.get("real_test_by_register", {}).items():
            flat = flatten(result)
            figures[register] = {"/".join(key): flat.get(key) for key in MODEL_FIGURES}
        out.append({"name": name, "current": name == current, "backend": c.get("backend"),
                    "created": c.get("created"), "promotion": ev.get("promotion"), "held_out": figures})
    return sorted(out, key=lambda m: (m.get("created") or "", m["name"]))


def overview(root: Path | None = None, changes: int = 50) -> dict[str, Any]:
    """The registry for a person choosing a model: the current one, every model (`summaries`)
    newest first, and the latest `changes` of the served model newest first."""
    root = root or registry_dir()
    current = current_or_none(root)
    return {"current": current, "models": summaries(root)[::-1], "history": history(root)[::-1][:changes]}


def write_card(folder: Path, card: dict[str, Any], make_current: bool = False,
               reason: str = "trained and made current") -> None:
    """The model card, as JSON for programs and as Markdown for people; the last step of
    writing a model, after which it may be made the served one."""
    # Replaced whole: a served model's card may be written again (bench/peer_baseline.py --card)
    # while a server reloads it.
    for name, text in ((CARD, json.dumps(card, ensure_ascii=False, indent=1)), ("card.md", card_markdown(card))):
        tmp = folder / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(folder / name)
    if make_current:
        set_current(folder.name, folder.parent, reason=reason)


def card_markdown(card: dict[str, Any]) -> str:
    from triage.classify.evaluate import format_report

    ev = card["evaluation"]
    parts = [f"# Model card: {card['version']}", "", card["model"], "",
             f"Trained {card['created']} in {card['training_seconds']} s on "
             f"{json.dumps(card['data']['examples'])}; feedback corrections used: {card['data']['feedback_used']}.", ""]
    if "timings" in card:  # the transformer: its two phases and its size
        t = card["timings"]
        parts += [f"Pre-training: {json.dumps(t['pretrain'])}; fine-tuning: {t['finetune']['steps']} steps in "
                  f"{t['finetune']['seconds']} s; {card['parameters']:,} parameters, "
                  f"{card['size_bytes'] / 1e6:.1f} MB on disk.", ""]
    if "members" in card:
        parts += ["Members: " + ", ".join(f"`{m['name']}` (weight {m['weight']:g})" for m in card["members"]), ""]
    parts += ["## Held-out real complaints", "", ev["real_test"]["description"], "", "```",
              format_report(ev["real_test"]), "```"]
    if "safety_only" in ev["real_test"]:
        parts += ["", f"safety only: {json.dumps(ev['real_test']['safety_only'])}"]
    parts += ["", f"calibration error (ECE, 10 bins): {json.dumps(ev['real_test']['calibration_ece'])}"]
    for register, fig in ev.get("real_test_by_register", {}).items():
        parts += ["", f"### {register}: {fig['description']}", "", "```", format_report(fig), "```"]
    if "peers" in ev:
        parts += ["", "## Beside the peers, trained on the same real rows", "", ev["peers"]["table"], "",
                  "Where a peer is ahead (with the peer's difference from ours and its 95 % paired bootstrap "
                  "interval over the test rows, when the card has them):", ""]
        parts += [f"- {line}" for line in ev["peers"]["shortfalls"]] or ["- nowhere"]
        for peer, ahead in ev["peers"].get("clear", {}).items():
            parts += ["", f"Told apart from {peer} by the rows (the interval excludes zero): ahead on "
                          f"{len(ahead['ours'])} figures, behind on {len(ahead['peer'])}.", ""]
            parts += [f"- ahead: {line}" for line in ahead["ours"]] + [f"- behind: {line}" for line in ahead["peer"]]
    if "against_current" in ev:
        other = ev["against_current"]
        parts += ["", f"## Against `{other['model']}`, the model served when this one was trained", "",
                  "The same held-out real rows; this model minus that one, with the 95 % paired bootstrap interval; "
                  "only the figures the rows tell apart:"]
        for register, r in other["by_register"].items():
            parts += ["", f"{register}: better on {len(r['better'])}, worse on {len(r['worse'])}", ""]
            parts += [f"- better: {line}" for line in r["better"]] + [f"- worse: {line}" for line in r["worse"]]
    if "promotion" in ev:
        decision = ev["promotion"]
        how = {"gate": "by the gate: made current unless worse than the current model beyond noise on an accuracy, "
                       "major recall or a flag's recall (training/promotion.py)",
               "--current": "by a person (--current)", "--no-current": "by a person (--no-current)"}
        decided = how.get(decision["decided_by"], decision["decided_by"])
        parts += ["", "## Made current?", "", f"{'Yes' if decision['made_current'] else 'No'}, {decided}."]
        if decision["held_back_by"]:
            parts += ["", f"Worse than `{decision['against']}` beyond noise on:", ""]
            parts += [f"- {line}" for line in decision["held_back_by"]]
    parts += ["", "## Held-out written examples (not real data)", "", ev["written_test"]["description"], "", "```",
              format_report(ev["written_test"]), "```", "", "## How each head was labelled", ""]
    parts += [f"- {k}: {v}" for k, v in card["data"]["how_each_head_was_labelled"].items()]
    parts += ["", "## Training label counts", "", "```", json.dumps(card["data"]["train_label_counts"],
                                                                    ensure_ascii=False, indent=1), "```",
              "", "## Sources", ""]
    parts += [f"- `{s['path']}` sha256 `{s['sha256'][:16]}…`" for s in card["data"]["sources"]]
    parts += ["", "## Libraries", "", ", ".join(f"{k} {v}" for k, v in card["libraries"].items()), ""]
    return "\n".join(parts)


# ---- integrity: nothing loads that the card does not vouch for ----------------------------
def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def card_artifacts(folder: Path) -> dict[str, str]:
    """The SHA-256 of each artifact file, as the folder's model card vouches for them."""
    try:
        return json.loads((folder / CARD).read_text(encoding="utf-8"))["artifacts"]
    except (OSError, KeyError, ValueError) as exc:
        raise ModelError(f"{folder}: no readable model card with artifact hashes ({exc})") from exc


def verify_files(folder: Path, names: Iterable[str], expected: dict[str, str]) -> None:
    """Each named file exists and has the SHA-256 the card gives it, or nothing loads."""
    for name in sorted(names):
        path = folder / name
        if not path.exists():
            raise ModelError(f"{folder}: {name} is missing")
        if sha256(path) != expected.get(name):
            raise ModelError(f"{path}: SHA-256 does not match the model card; refusing to load it")


# ---- loading ---------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _load(folder: str, mtime: float):
    path = Path(folder)
    backend = json.loads((path / CARD).read_text(encoding="utf-8")).get("backend", "sklearn")
    if backend == "sklearn":
        from triage.classify.sklearn import SklearnModel

        return SklearnModel.load(path)
    if backend == "transformer":
        from triage.classify.transformer import require_torch

        require_torch()
        from triage.classify.transformer.backend import TransformerModel

        return TransformerModel.load(path)
    if backend == "onnx":
        from triage.classify.transformer.onnx_backend import OnnxTransformerModel

        return OnnxTransformerModel.load(path)
    if backend == "ensemble":
        from triage.classify.ensemble import EnsembleModel

        load_member: Callable[[str], Any] = lambda member: load_from(path.parent, member)  # noqa: E731
        return EnsembleModel.load(path, load_member)
    raise ModelError(f"{folder}: unknown backend {backend!r} in its card (known: {', '.join(BACKENDS)})")


def _stamp(folder: Path) -> float:
    """Latest change to a model folder's files, or to its members' for an ensemble."""
    stamp = max(p.stat().st_mtime for p in folder.iterdir() if p.is_file())
    if not any((folder / n).exists() for n in ("model.npz", "model.safetensors", "model.onnx")):
        try:
            members = json.loads((folder / CONFIG).read_text(encoding="utf-8")).get("members", [])
            stamp = max([stamp, *(_stamp(folder.parent / m["name"]) for m in members)])
        except (OSError, ValueError, KeyError, TypeError):
            pass  # the load itself reports what is wrong
    return stamp


def load_from(root: Path, name: str | None = None):
    """The named model (or the current one) of the registry at `root`; cached while its files
    are unchanged."""
    folder = model_dir(name, root)
    # Any file rewritten (artifact or card) means a reload, and so a fresh hash check.
    return _load(str(folder), _stamp(folder))


def load(name: str | None = None):
    """The named model, or the current one, of the registry in use."""
    return load_from(registry_dir(), name)


def clear_cache() -> None:
    _load.cache_clear()


RECHECK_SECONDS = 2.0


class ModelLoader:
    """The model a server serves, as a loader to call on every request: `load(name)`, whose
    answer is kept for `recheck` seconds. `load` reads CURRENT and the time stamp of every
    file of the model folder (its members' too, for an ensemble); a server asking that on
    each request spent more on it than on classifying. So a new CURRENT, or a model folder
    rewritten, is served at most `recheck` seconds later (and its files' hashes are checked
    again then, as by `load`)."""

    def __init__(self, name: str | None = None, recheck: float = RECHECK_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.recheck, self.clock = name, recheck, clock
        self._model: Any = None
        self._checked = 0.0

    def __call__(self) -> Any:
        now = self.clock()
        if self._model is None or now - self._checked >= self.recheck:
            self._model = load(self.name)  # raises, as `load` does, for a model that cannot be served
            self._checked = now
        return self._model

    @property
    def follows_current(self) -> bool:
        """True unless the server was started with a model named (`triage serve --model`)."""
        return self.name is None

    def use(self, name: str, by: str | None = None) -> Any:
        """Make `name` current (`use`, in the registry in use) and serve it from this process at
        once, not at the next recheck; the model now served. A loader started with a model named
        refuses (ModelError), since the change would not reach it."""
        if not self.follows_current:
            raise ModelError(f"this server serves {self.name}, named when it was started (triage serve --model): "
                             "a change of the current model would not reach it")
        use(name, by=by)
        self._model = None
        return self()
