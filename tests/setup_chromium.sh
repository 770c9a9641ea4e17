#!/usr/bin/env bash
# Install Debian's headless-capable chromium for tests/test_report.py (renders report.html).
# Idempotent: a no-op when /usr/bin/chromium exists. Needs root (CI); otherwise it says why
# and exits 1, and the browser tests skip with that reason. `make test` runs it with `|| true`.
set -u
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "setup_chromium: /usr/bin/chromium missing and not root; run as root: apt-get install -y chromium" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup_chromium: no apt-get on this system; install a chromium at /usr/bin/chromium by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
if [ -x /usr/bin/chromium ]; then
    echo "setup_chromium: installed $(/usr/bin/chromium --version 2>/dev/null)"
    exit 0
fi
echo "setup_chromium: apt-get install chromium failed" >&2
exit 1
