#!/usr/bin/env bash
# The README's first command. On a fresh machine with Python 3.11+, it installs everything into
# .venv, runs the service in embedded mode (SQLite, local files, a SQLite Celery broker and one
# worker process beside the API: nothing else to start), condenses a few scikit-image photos
# through the REST API, downloads the result through its signed URL, says where it is, and stops
# the service. A few minutes on two CPU cores.
#
#   bash scripts/quickstart.sh            (IDC_SKIP_INSTALL=1 reuses an existing .venv)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${IDC_SKIP_INSTALL:-0}" != 1 ] || [ ! -x .venv/bin/idc-service ]; then
  echo "== installing into .venv (scripts/install.sh)"
  bash scripts/install.sh
fi
. .venv/bin/activate

export IDC_DATA_DIR=${IDC_DATA_DIR:-var/quickstart}
export IDC_API_HOST=127.0.0.1
export IDC_API_PORT=${IDC_API_PORT:-$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
export IDC_SECRET_KEY=${IDC_SECRET_KEY:-$(python -c 'import secrets; print(secrets.token_urlsafe(32))')}
URL="http://127.0.0.1:${IDC_API_PORT}"
mkdir -p "$IDC_DATA_DIR"
LOG="$IDC_DATA_DIR/service.log"

echo "== preparing the database and an API key"
idc-service migrate
KEY=$(idc-service create-key --owner quickstart --name quickstart 2>/dev/null)

echo "== starting the service (API + one worker) at $URL; log: $LOG"
idc-service embedded >"$LOG" 2>&1 &
SERVICE_PID=$!
stop_service() {
  kill "$SERVICE_PID" 2>/dev/null || true
  wait "$SERVICE_PID" 2>/dev/null || true
}
trap stop_service EXIT

for _ in $(seq 1 120); do
  if python -c "import httpx, sys; sys.exit(httpx.get('$URL/readyz').status_code != 200)" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$SERVICE_PID" 2>/dev/null; then
    echo "the service stopped; its log:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  sleep 1
done

echo "== condensing through the REST API (docs: $URL/docs)"
python scripts/demo_client.py --url "$URL" --key "$KEY" --out "$IDC_DATA_DIR/result" "$@"
echo "== stopping the service"
