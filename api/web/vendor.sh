#!/usr/bin/env bash
# Vendors the GraphiQL page's browser assets from the versions pinned in
# package-lock.json: `npm ci` (which checks every tarball against the lockfile's
# integrity hash), then copies the four files the page needs into vendor/, named
# with their versions (and their licences), and writes vendor/SHA256SUMS. The binary embeds vendor/
# (api/src/web.rs), so building it needs no npm and the page loads no CDN.
#
#   api/web/vendor.sh          re-vendor (after changing package.json: npm install first)
#   api/web/vendor.sh --check  vendor into a scratch copy and fail if vendor/ differs
#                              (.ci/run runs this: the committed files are the lockfile's)
#
# graphql is listed in package.json only to pin graphiql's peer dependency: the
# UMD build bundles it. React and ReactDOM are separate scripts (UMD globals).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

vendor_into() { # <dir with package.json + package-lock.json> <out dir>
  local src="$1" out="$2"
  (cd "$src" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  local m="$src/node_modules"
  v() { node -p "require('$m/$1/package.json').version"; }
  local react reactdom graphiql
  react="$(v react)"; reactdom="$(v react-dom)"; graphiql="$(v graphiql)"
  mkdir -p "$out"
  rm -f "$out"/*.js "$out"/*.css "$out"/*.LICENSE "$out"/SHA256SUMS
  cp "$m/react/umd/react.production.min.js" "$out/react-$react.production.min.js"
  cp "$m/react-dom/umd/react-dom.production.min.js" "$out/react-dom-$reactdom.production.min.js"
  cp "$m/graphiql/graphiql.min.js" "$out/graphiql-$graphiql.min.js"
  cp "$m/graphiql/graphiql.min.css" "$out/graphiql-$graphiql.min.css"
  for p in react react-dom graphiql; do cp "$m/$p/LICENSE" "$out/$p.LICENSE"; done
  (cd "$out" && sha256sum -- *.js *.css > SHA256SUMS)
}

command -v npm >/dev/null || { echo "vendor.sh needs npm (Debian: apt-get install npm)" >&2; exit 1; }
if [[ "${1:-}" == "--check" ]]; then
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  cp "$here/package.json" "$here/package-lock.json" "$scratch/"
  vendor_into "$scratch" "$scratch/vendor"
  if ! diff -r "$scratch/vendor" "$here/vendor"; then
    echo "api/web/vendor/ differs from what package-lock.json pins: run api/web/vendor.sh and commit" >&2
    exit 1
  fi
  echo "api/web/vendor/ matches package-lock.json"
else
  vendor_into "$here" "$here/vendor"
  echo "vendored into api/web/vendor/ (the page names the files in api/web/graphiql.html;"
  echo "the binary lists them in api/src/web.rs):"
  cat "$here/vendor/SHA256SUMS"
fi
