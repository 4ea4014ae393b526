# Sourced by the other scripts: puts a Node >= 22 and the pinned pnpm on PATH.
# A machine whose Node is older gets Node 24 from the npm registry (the `node` package
# ships the binary); pnpm comes from the registry too (corepack's signature check fails
# against the registry mirror on our machines).
set -euo pipefail
WEFT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$WEFT_ROOT/.tools"
NODE_PKG_VERSION=24.21.0
PNPM_VERSION="$(sed -n 's/.*"packageManager": *"pnpm@\([^"]*\)".*/\1/p' "$WEFT_ROOT/package.json")"

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

if [ "$(node_major)" -lt 22 ]; then
  if [ ! -x "$TOOLS/node/node_modules/node/bin/node" ]; then
    echo "weft: Node $(node --version 2>/dev/null || echo none) is older than 22; fetching node@$NODE_PKG_VERSION from the npm registry" >&2
    mkdir -p "$TOOLS/node"
    npm install --prefix "$TOOLS/node" --no-save --no-audit --no-fund --loglevel=error "node@$NODE_PKG_VERSION" >&2
  fi
  export PATH="$TOOLS/node/node_modules/node/bin:$PATH"
fi

if [ ! -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ] || [ "$("$TOOLS/pnpm/node_modules/.bin/pnpm" --version 2>/dev/null)" != "$PNPM_VERSION" ]; then
  mkdir -p "$TOOLS/pnpm"
  npm install --prefix "$TOOLS/pnpm" --no-save --no-audit --no-fund --loglevel=error "pnpm@$PNPM_VERSION" >&2
fi
export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
export npm_config_update_notifier=false
