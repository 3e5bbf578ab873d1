#!/usr/bin/env bash
# CI: make sure PostgreSQL's server binaries are installed. The tests start (and stop) their own
# throwaway cluster as the postgres user on a free port of 127.0.0.1 (tests/store/conftest.py),
# or use $AUTOLOG_TEST_POSTGRES_URI when it is set.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 && ! command -v pg_ctl >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql
fi
