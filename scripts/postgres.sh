#!/usr/bin/env bash
# Make sure PostgreSQL's initdb and pg_ctl are installed, so the PostgreSQL backend's tests
# (contract suite, roles, scenario) run on a real throwaway server instead of skipping. The
# tests start and stop the server themselves (tests/fakes/postgres.py). Debian's postgresql
# package; as root the tests run the server as the `postgres` user it creates.
set -euo pipefail
found() {
  command -v initdb >/dev/null && command -v pg_ctl >/dev/null && return 0
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1
}
if found; then
  echo "rankbot: PostgreSQL found: the PostgreSQL tests run" >&2
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "rankbot: installing PostgreSQL for the PostgreSQL backend's tests" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    postgresql >/dev/null
  # the Debian package's cluster is not used: the tests start their own servers
  if command -v pg_ctlcluster >/dev/null; then
    for conf in /etc/postgresql/*/main; do
      [ -d "$conf" ] && pg_ctlcluster "$(basename "$(dirname "$conf")")" main stop || true
    done
  fi
  found && exit 0
fi
echo "rankbot: PostgreSQL is not installed; its tests will SKIP (as root: apt-get install" \
  "postgresql)" >&2
