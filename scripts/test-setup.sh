#!/usr/bin/env bash
# Installs and starts what the test suite needs: Debian packages (as root), PostgreSQL, Redis.
# Without root it checks instead and prints the exact command to run. It never skips anything.
set -euo pipefail

need_pkgs=()
command -v bearerbox >/dev/null 2>&1 || [ -x /usr/sbin/bearerbox ] || need_pkgs+=(kannel)
[ -x /usr/lib/kannel/test/fakesmsc ] || need_pkgs+=(kannel-extras)
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -x /usr/sbin/dovecot ] && [ -x /usr/lib/dovecot/imap ] || need_pkgs+=(dovecot-imapd)
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v pg_ctlcluster >/dev/null 2>&1 || need_pkgs+=(postgresql)

if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-setup: installing Debian packages: ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
  else
    echo "test-setup: missing Debian packages; run: sudo apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_ready; then
  if [ "$(id -u)" = 0 ]; then
    echo "test-setup: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_ready && break; sleep 1; done
  fi
  pg_ready || { echo "test-setup: PostgreSQL is not answering on 127.0.0.1:5432; start it with: pg_ctlcluster \$(ls /etc/postgresql) main start" >&2; exit 1; }
fi

redis_ready() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_ready; then
  echo "test-setup: starting Redis"
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
  for _ in $(seq 1 30); do redis_ready && break; sleep 0.5; done
  redis_ready || { echo "test-setup: Redis is not answering on 127.0.0.1:6379; start it with: redis-server --daemonize yes --port 6379" >&2; exit 1; }
fi
echo "test-setup: PostgreSQL, Redis, Kannel, Dovecot and Chromium are ready"
