#!/usr/bin/env bash
# Install the transformer extra into .venv (after scripts/setup.sh): torch's CPU build
# pinned to torch==2.13.0 first, so that resolving the extra never pulls the CUDA build,
# then the package with [dev,transformer].
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=(.venv/bin/python -m pip install --quiet)
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__ != '2.13.0+cpu')" 2>/dev/null; then
  WHEEL=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)
  if [ -n "$WHEEL" ]; then
    "${PIP[@]}" "$WHEEL"
  elif ! "${PIP[@]}" --only-binary=:all: "torch==2.13.0+cpu"; then
    # Never the CUDA build (gigabytes): without the CPU wheel, stop here and say so.
    echo "torch-extra: no torch==2.13.0+cpu wheel here; the transformer extra is NOT installed" \
         "and tests/test_transformer.py cannot run" >&2
    exit 1
  fi
fi
"${PIP[@]}" -e '.[dev,transformer]'
.venv/bin/python -c "import torch, transformers; print('transformer extra: torch', torch.__version__, \
'transformers', transformers.__version__)"
