#!/usr/bin/env bash
# `make demo`'s test e-ID provider: starts deploy/oidc-test-provider on 127.0.0.1:$EID_DEMO_PORT
# for the site on 127.0.0.1:$PORT, waits until it answers, prints its test identities, and
# writes the settings that point the site at it to the file named by $1 (sourced by make).
# Prints nothing to the file when Node or oidc-provider is missing: the demo then runs
# without e-ID. The provider's PID is written to $1.pid; the caller stops it.
set -euo pipefail
out=$1
: >"$out"
if ! command -v node >/dev/null 2>&1 || [ ! -d node_modules/oidc-provider ]; then
    echo "  (no test e-ID provider: Node or oidc-provider is missing; run scripts/ensure-node.sh and make node)"
    exit 0
fi
log=$(mktemp)
OIDC_PORT=$EID_DEMO_PORT OIDC_CLIENT_ID=chatcounsel-demo OIDC_CLIENT_SECRET=demo-secret \
    OIDC_REDIRECT_URIS="http://127.0.0.1:$PORT/eid/callback/ http://localhost:$PORT/eid/callback/" \
    node deploy/oidc-test-provider/provider.mjs >"$log" 2>&1 &
echo $! >"$out.pid"
for _ in $(seq 1 200); do
    if grep -q '^READY ' "$log"; then
        sed -n '/^Test e-ID identities/,/^READY/p' "$log" | grep -v '^READY' | sed 's/^/  /'
        cat >"$out" <<ENV
export EID_OIDC_ISSUER=http://127.0.0.1:$EID_DEMO_PORT
export EID_OIDC_CLIENT_ID=chatcounsel-demo
export EID_OIDC_CLIENT_SECRET=demo-secret
export EID_PROVIDER_NAME="test e-ID"
ENV
        exit 0
    fi
    if ! kill -0 "$(cat "$out.pid")" 2>/dev/null; then
        echo "  the test e-ID provider did not start:" >&2
        cat "$log" >&2
        exit 1
    fi
    sleep 0.1
done
echo "  the test e-ID provider did not answer in 20 s" >&2
exit 1
