#!/usr/bin/env bash
# Set everything up and run the main job on the embedded default (bundled model):
# a virtualenv with the package and its test tools, a check that the shipped model loads,
# then `triage predict` over the example complaints: their JSON Lines go to var/examples.jsonl,
# and a short table of what was found is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
if ! .venv/bin/python -c "from triage.classify import registry; registry.load()" 2>/dev/null; then
  echo "no usable bundled model: training one (about a minute)" >&2
  .venv/bin/triage train
fi
mkdir -p var
.venv/bin/triage predict examples/complaints.csv -q -o var/examples.jsonl --summary
echo
echo "Run the commands as .venv/bin/triage …, or activate the virtualenv first: source .venv/bin/activate"
