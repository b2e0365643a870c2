#!/usr/bin/env bash
# Make sure Debian's Chromium is installed for the browser tests (Playwright drives
# /usr/bin/chromium; nothing is downloaded by Playwright itself). Idempotent.
#
# Missing and root:      apt-get installs chromium, fonts-liberation and gettext.
# Missing and not root:  prints how to install it; exits 1 under CI, otherwise 0 so the
#                        rest of the suite runs and the browser tests explain themselves.
set -euo pipefail

CHROMIUM=/usr/bin/chromium
PACKAGES=(chromium fonts-liberation gettext)

if [ -x "$CHROMIUM" ]; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "ensure-chromium: $CHROMIUM is missing; installing ${PACKAGES[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
    if [ ! -x "$CHROMIUM" ]; then
        echo "ensure-chromium: apt-get finished but $CHROMIUM is still missing" >&2
        exit 1
    fi
    exit 0
fi

cat >&2 <<MSG
ensure-chromium: $CHROMIUM is missing and this is not root, so it cannot be installed here.
  The browser tests need Debian's Chromium. As root run:
    apt-get update && apt-get install -y --no-install-recommends ${PACKAGES[*]}
  (Do not run 'playwright install'; the tests use $CHROMIUM.)
MSG
if [ -n "${CI:-}" ]; then
    exit 1
fi
exit 0
