#!/usr/bin/env bash
# The test suite: lint (ruff) first, then pytest. Extra arguments go to pytest, e.g.
#   scripts/test.sh -k ingest          one area
#   scripts/test.sh -m "not slow"      the quick set (no model training, no wheel build)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true DVC_NO_ANALYTICS=1
.venv/bin/ruff check .
exec .venv/bin/python -m pytest "$@"
