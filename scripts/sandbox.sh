#!/usr/bin/env bash
# Try officeflow on a fresh Debian machine: ./scripts/sandbox.sh [sandbox options...]
# Makes .venv, installs officeflow into it, and runs `officeflow sandbox`: a local IMAP + SMTP
# server on 127.0.0.1 with the example config's people as mailboxes, SQLite, and the daemon on top.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    rm -rf .venv
    if ! python3 -m venv .venv; then
        rm -rf .venv
        if [ "$(id -u)" -eq 0 ]; then apt-get update && apt-get install -y python3-venv
        else sudo apt-get update && sudo apt-get install -y python3-venv; fi
        python3 -m venv .venv
    fi
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/officeflow sandbox "$@"
