#!/usr/bin/env bash
# Creates .venv with everything: the CPU build of torch (pinned), the package with all extras, and
# spandrel without its torchvision dependency (see idc_core/models/spandrel_adapter.py), with
# spandrel_extra_arches for SRFormer (it bundles architectures under restrictive licences).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip >/dev/null
pip install -q "torch==2.13.0"
pip install -q -e ".[core,service,dev]"
pip install -q --no-deps "spandrel==0.4.2" "spandrel_extra_arches==0.2.0"
