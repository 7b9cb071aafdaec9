"""Build hook: a wheel carries the served model only.

`models/` is data: every trained model's folder and CURRENT, the name of the one served.
A wheel carries that one (with an ensemble's members), copied to triage/classify/shipped/,
where triage.classify.registry looks when no TRIAGE_MODELS_DIR is set. The others stay in
the repository and are reproducible with `triage train`; the transformer ones need the
transformer extra anyway. An editable install reads `models/` of the checkout directly.
"""

import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

MODELS = Path(__file__).resolve().parent / "models"


def served_models() -> tuple[str, list[str]]:
    """(the current model, the folders it needs: itself and an ensemble's members)."""
    current = (MODELS / "CURRENT").read_text(encoding="utf-8").strip()
    config = json.loads((MODELS / current / "model.json").read_text(encoding="utf-8"))
    return current, [current, *(m["name"] for m in config.get("members", []))]


class BuildPyWithServedModel(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "triage" / "classify" / "shipped"
        shutil.rmtree(target, ignore_errors=True)  # a model served by an earlier build must not linger
        current, names = served_models()
        for name in names:
            shutil.copytree(MODELS / name, target / name)
        (target / "CURRENT").write_text(current + "\n", encoding="utf-8")


setup(cmdclass={"build_py": BuildPyWithServedModel})
