#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine: ./scripts/test.sh [pytest args...]
# Installs the mail server the tests run against, makes .venv, installs the project, runs pytest.
set -euo pipefail

# System packages the suite needs (add more here, e.g. a CJK font for the printable forms).
# cyrus-common: Cyrus IMAP's master and LMTP, for the tests against a second IMAP server.
# libreoffice-*-nogui: reading .doc/.wps/.et attachments, as on a production install.
APT_PACKAGES="dovecot-imapd dovecot-lmtpd postgresql fonts-wqy-microhei cyrus-common libreoffice-writer-nogui libreoffice-calc-nogui"

cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 update
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 \
        install -y --no-install-recommends "$@"
}

missing=""
for pkg in $APT_PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -n "$missing" ] || ! command -v dovecot >/dev/null; then
    echo "test.sh: installing$missing" >&2
    # shellcheck disable=SC2086
    apt_install $APT_PACKAGES
fi

# Cyrus' imapd is in cyrus-imapd, which conflicts with dovecot-imapd (both are "imap-server"): unpack it
# into .cache instead of installing it; tests/cyrus.py finds it there.
if [ ! -x /usr/lib/cyrus/bin/imapd ] && [ ! -x .cache/cyrus-imapd/usr/lib/cyrus/bin/imapd ]; then
    rm -rf .cache/cyrus-deb && mkdir -p .cache/cyrus-deb
    if (cd .cache/cyrus-deb && apt-get download cyrus-imapd >/dev/null 2>&1); then
        dpkg-deb -x .cache/cyrus-deb/cyrus-imapd_*.deb .cache/cyrus-imapd
    else
        echo "test.sh: could not download cyrus-imapd; the Cyrus tests will be skipped" >&2
    fi
    rm -rf .cache/cyrus-deb
fi

if [ ! -x .venv/bin/python ]; then
    rm -rf .venv
    if ! python3 -m venv .venv; then
        rm -rf .venv
        apt_install python3-venv
        python3 -m venv .venv
    fi
fi

# Reinstall only when the project's metadata changed since the last install.
stamp=.venv/.officeflow-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test,postgres]'
    touch "$stamp"
fi

status=0
.venv/bin/python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests" >&2
    status=1
fi
exit "$status"
