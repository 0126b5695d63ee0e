#!/usr/bin/env bash
# Creates .venv in the project and installs raynas with its test tools. Re-running is fast:
# nothing is installed again unless pyproject.toml or this script changed.
set -euo pipefail
cd "$(dirname "$0")/.."

pick_python() {
  for py in "${PYTHON:-}" python3.11 python3.12 python3.10 python3; do
    [ -n "$py" ] || continue
    if command -v "$py" >/dev/null 2>&1 &&
      "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
      echo "$py"; return 0
    fi
  done
  echo "raynas needs Python >= 3.10 (python3.11 recommended); none found on PATH" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  py=$(pick_python)
  echo "[setup] creating .venv with $py"
  "$py" -m venv .venv
fi
stamp=.venv/.raynas-installed
want=$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing dependencies into .venv (first run takes a few minutes)"
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned so that pip takes the CPU build here; on a CUDA machine install the CUDA
  # build of the same version first and this line keeps it.
  .venv/bin/python -m pip install -q "torch==2.13.0"
  # openvino: a second real execution provider (a plugin EP) for the measurement tests; its
  # marker skips it where no wheel exists
  .venv/bin/python -m pip install -q -e ".[dev,cluster,openvino]"
  echo "$want" >"$stamp"
fi
