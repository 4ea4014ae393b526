#!/usr/bin/env bash
# The README's demo command: set up, then run the checkout/inventory demo against a real
# control plane process.
source "$(dirname "$0")/env.sh"
bash "$WEFT_ROOT/scripts/setup.sh"
cd "$WEFT_ROOT"
pnpm run demo
