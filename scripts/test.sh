#!/usr/bin/env bash
# The test suite. Extra arguments go to pytest (e.g. scripts/test.sh -k ingest).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true DVC_NO_ANALYTICS=1
exec .venv/bin/python -m pytest "$@"
