#!/usr/bin/env bash
# Starts the PostgreSQL and Redis servers that the tests use, when they are not running already.
set -euo pipefail
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! pg_up; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
fi
if ! redis_up; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
for _ in $(seq 30); do pg_up && redis_up && exit 0; sleep 1; done
echo "PostgreSQL or Redis did not come up on 127.0.0.1" >&2
exit 1
