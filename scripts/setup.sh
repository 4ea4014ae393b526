#!/usr/bin/env bash
# Installs the workspace and builds it. Safe to run again.
source "$(dirname "$0")/env.sh"
cd "$WEFT_ROOT"
echo "weft: node $(node --version), pnpm $(pnpm --version)" >&2
if [ "${CI:-}" = "true" ]; then
  pnpm install --frozen-lockfile --reporter=append-only >&2
else
  pnpm install --reporter=append-only >&2
fi
pnpm run build >&2
