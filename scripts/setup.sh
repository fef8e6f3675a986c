#!/usr/bin/env bash
# Make a fresh machine ready: a virtualenv with the package, its test
# tools and the docs tools, and (as root, on Debian) the real p0f daemon.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --editable ".[test,docs]"

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    if ! command -v p0f >/dev/null && [ ! -x /usr/sbin/p0f ]; then
        echo "setup: installing Debian's p0f" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq p0f >/dev/null
    fi
    if ! command -v openssl >/dev/null; then
        echo "setup: installing openssl (test certificates for the TLS tests)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
    fi
else
    echo "setup: not root (or not Debian): the real-daemon tests will be skipped" >&2
fi
