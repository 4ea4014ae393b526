#!/usr/bin/env bash
# The README's test command: set up, type-check (build), lint, run every suite.
source "$(dirname "$0")/env.sh"
bash "$WEFT_ROOT/scripts/setup.sh"
cd "$WEFT_ROOT"
pnpm run lint
pnpm exec mocha --reporter "$WEFT_ROOT/scripts/mocha-summary-reporter.cjs"
