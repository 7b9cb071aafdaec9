"""Training wall time of the default model, written to a scratch registry.

    .venv/bin/python bench/bench_train.py
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.train import train

with tempfile.TemporaryDirectory() as tmp:
    t = time.perf_counter()
    folder = train(registry=Path(tmp), make_current=False, log=lambda m: None)
    wall = time.perf_counter() - t
    card = json.loads((folder / "card.json").read_text())
print(json.dumps({"train_wall_s": round(wall, 1), "fit_s_in_card": card["training_seconds"],
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}, indent=1))
