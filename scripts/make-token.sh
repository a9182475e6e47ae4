#!/usr/bin/env bash
# Creates a SoftHSM2 token per fixture person (fictional test data) in DIR, each like an IC card: the person's
# signing and encryption keys (sensitive, never extractable) with their certificates and the GCA certificate, user
# PIN = the person's fixture PIN. Prints the SOFTHSM2_CONF to export and each person's pkcs11: URI.
#
# Usage: bash scripts/make-token.sh DIR [PERSON ...]   (default: every person in fixtures/pki/manifest.json)
#   e.g. eval "$(bash scripts/make-token.sh /tmp/cards soc-chen tax-wang)"
# Needs softhsm2 (scripts/install.sh) and the built pkcs11js (npm ci). DIR is created; existing tokens in it stay.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash scripts/make-token.sh DIR [PERSON ...]" >&2
  exit 2
fi
exec node "$(dirname "$0")/lib/make-token.mjs" "$@"
