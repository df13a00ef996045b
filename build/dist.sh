#!/usr/bin/env bash
# Builds the static site of VHDX Inspector into dist/ (or $DIST):
# the web/ files, wasm_exec.js from the Go that builds the engine, and the
# engine itself as vhdx.wasm.gz, the filesystem module as files.wasm.gz. Stamps the service worker with a content
# hash of the site and the list of its files.
#
#   build/dist.sh                 # build into ./dist
#   DIST=/tmp/site build/dist.sh  # build elsewhere
#   GO=/path/to/go build/dist.sh  # use another Go toolchain
#   ENGINE_ROOT=/other/checkout   # build ./wasm from another module root
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIST=${DIST:-$ROOT/dist}
GO=${GO:-go}
ENGINE_ROOT=${ENGINE_ROOT:-$ROOT}

if [[ ! -f "$ENGINE_ROOT/wasm/main.go" ]]; then
	echo "dist.sh: $ENGINE_ROOT/wasm/main.go does not exist yet: no engine to build" >&2
	exit 1
fi

GOROOT_DIR=$("$GO" env GOROOT)
WASM_EXEC="$GOROOT_DIR/lib/wasm/wasm_exec.js"
[[ -f "$WASM_EXEC" ]] || WASM_EXEC="$GOROOT_DIR/misc/wasm/wasm_exec.js" # Go before 1.24
[[ -f "$WASM_EXEC" ]] || { echo "dist.sh: no wasm_exec.js under $GOROOT_DIR" >&2; exit 1; }

rm -rf "$DIST"
mkdir -p "$DIST"

# The site: every regular file of web/ (no sub-directories are used).
find "$ROOT/web" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$DIST/" \;
cp "$WASM_EXEC" "$DIST/wasm_exec.js"

# The engine, built by the same Go that gave wasm_exec.js.
(cd "$ENGINE_ROOT" && GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags='-s -w' -o "$DIST/vhdx.wasm" ./wasm)
raw_size=$(stat -c %s "$DIST/vhdx.wasm")
gzip -9 -n -f "$DIST/vhdx.wasm" # leaves only vhdx.wasm.gz
chmod 644 "$DIST/vhdx.wasm.gz"
gz_size=$(stat -c %s "$DIST/vhdx.wasm.gz")

# The filesystem module, a second wasm module the page fetches only when
# the Files view first opens (the service worker caches it then).
(cd "$ENGINE_ROOT" && GOOS=js GOARCH=wasm "$GO" build -trimpath -ldflags='-s -w' -o "$DIST/files.wasm" ./wasm/fsmodule)
fs_raw_size=$(stat -c %s "$DIST/files.wasm")
gzip -9 -n -f "$DIST/files.wasm"
chmod 644 "$DIST/files.wasm.gz"
fs_gz_size=$(stat -c %s "$DIST/files.wasm.gz")

# Stamp the service worker: cache version = hash of every other file, and
# the list of files to precache ("./" stands for index.html's URL).
cd "$DIST"
files=$(find . -maxdepth 1 -type f ! -name sw.js -printf '%f\n' | LC_ALL=C sort)
version=$(for f in $files; do sha256sum "$f"; done | sha256sum | cut -c1-16)
list="'./'"
for f in $files; do [[ $f == files.wasm.gz ]] || list="$list, './$f'"; done
sed -i \
	-e "s|^const VERSION = .*|const VERSION = '$version';|" \
	-e "s|^const FILES = .*|const FILES = [$list];|" \
	sw.js
grep -q "^const VERSION = '$version';" sw.js || { echo "dist.sh: could not stamp sw.js" >&2; exit 1; }

echo "dist: $DIST ($(echo "$files" | wc -l) files + sw.js, cache vhdx-inspector-$version)"
echo "files.wasm.gz: $fs_gz_size bytes ($(( (fs_gz_size + 1023) / 1024 )) KiB; $fs_raw_size bytes uncompressed), fetched when the Files view opens"
echo "vhdx.wasm.gz: $gz_size bytes ($(( (gz_size + 1023) / 1024 )) KiB; $raw_size bytes uncompressed)"
