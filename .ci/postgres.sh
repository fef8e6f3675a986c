#!/usr/bin/env bash
# Install (if needed) and start Debian's PostgreSQL for the Django model
# tests, as root on Debian 12; safe to run again.  Prints one line on
# stdout, for `eval "$(.ci/postgres.sh)"`:
#     export P0F_TEST_POSTGRES=postgresql://p0f:p0f@127.0.0.1:5432/p0f
# Everything else goes to stderr.
set -euo pipefail

ROLE=p0f
PASSWORD=p0f
DATABASE=p0f

say() { echo "postgres.sh: $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    say "run me as root"
    exit 1
fi

if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    say "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1, $2}' | grep -qx "$version main"; then
    say "creating cluster $version/main"
    pg_createcluster "$version" main >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')

if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
    say "starting cluster $version/main on port $port"
    pg_ctlcluster "$version" main start >&2
fi
for _ in $(seq 1 60); do
    pg_isready -q -h 127.0.0.1 -p "$port" && break
    sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" >&2

psql_admin() { runuser -u postgres -- psql -p "$port" -v ON_ERROR_STOP=1 -qtA "$@"; }
if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" != 1 ]; then
    say "creating role $ROLE"
    # CREATEDB: Django's test runner creates and drops test_$DATABASE.
    psql_admin -c "CREATE ROLE $ROLE LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'")" != 1 ]; then
    say "creating database $DATABASE"
    psql_admin -c "CREATE DATABASE $DATABASE OWNER $ROLE"
fi

echo "export P0F_TEST_POSTGRES=postgresql://$ROLE:$PASSWORD@127.0.0.1:$port/$DATABASE"
