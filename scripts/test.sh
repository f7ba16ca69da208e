#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, then runs pytest.
# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see scripts/services.sh);
# the tests start their own S3 server (seaweedfs) and Celery worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
ruff check .
python -m pytest -q -p no:cacheprovider "$@"
