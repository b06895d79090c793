#!/usr/bin/env bash
# The main job: generate a synthetic marketplace, train + register the model, score a new night.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1 MLFLOW_DISABLE_TELEMETRY=true
exec .venv/bin/fraudlens demo "$@"
