#!/usr/bin/env bash
# Sets everything up, then runs the main job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -f examples/hardware_aware_digits.py ]; then
  exec .venv/bin/python examples/hardware_aware_digits.py "$@"
fi
exec .venv/bin/python examples/quickstart.py "$@"
