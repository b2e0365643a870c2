#!/usr/bin/env bash
# Make sure Node and npm are installed for the test e-ID provider (deploy/oidc-test-provider),
# which the tests and `make demo` run. Production runs no Node. Idempotent.
#
# Missing and root:      apt-get installs nodejs and npm.
# Missing and not root:  prints how to install them; exits 1 under CI (the e-ID tests must
#                        run there), otherwise 0 so the rest of the suite runs and the e-ID
#                        tests explain themselves.
set -euo pipefail

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "ensure-node: node or npm is missing; installing nodejs npm" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && exit 0
    echo "ensure-node: apt-get finished but node or npm is still missing" >&2
    exit 1
fi

cat >&2 <<MSG
ensure-node: node or npm is missing and this is not root, so they cannot be installed here.
  The e-ID tests and the demo's test e-ID provider need Node 20 or later. As root run:
    apt-get update && apt-get install -y --no-install-recommends nodejs npm
MSG
if [ -n "${CI:-}" ]; then
    exit 1
fi
exit 0
