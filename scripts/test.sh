#!/usr/bin/env bash
# The whole test suite: installs what it needs, lints, type-checks, then runs pytest.
# Needs PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 (see scripts/services.sh);
# the tests start their own S3 server (seaweedfs) and Celery worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
. .venv/bin/activate
ruff check .
mypy  # what it checks and how strictly: [tool.mypy] in pyproject.toml
python -m pytest -q -p no:cacheprovider "$@"
