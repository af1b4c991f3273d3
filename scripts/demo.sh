#!/usr/bin/env bash
# `make demo`: generate a 3-edition Windows 8.1-like image, show it, reduce it to one edition, export
# that edition with another compression, verify, and print what happened with sizes before/after.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/release
DEMO=${DEMO_DIR:-target/demo}
SIZE=${DEMO_SIZE:-small}
rm -rf "$DEMO"
mkdir -p "$DEMO"
size_of() { stat -c %s "$1"; }
step() { printf '\n== %s\n' "$*"; }

step "1. Generate a synthetic 3-edition Windows 8.1 (6.3.9600) install.wim ($SIZE)"
"$BIN/wimpatch-fixtures" image --profile win81 --size "$SIZE" --out "$DEMO/install.wim"

step "2. wimpatch info $DEMO/install.wim"
"$BIN/wimpatch" info "$DEMO/install.wim"

step "3. Keep only the Pro edition (by name), written to a new file"
before=$(size_of "$DEMO/install.wim")
"$BIN/wimpatch" reduce --image "$DEMO/install.wim" --keep "Windows 8.1 Pro" --dest "$DEMO/pro.wim"

step "4. Export it with XPRESS compression (DISM /Compress:fast)"
"$BIN/wimpatch" export-image --source "$DEMO/pro.wim" --index 1 --dest "$DEMO/pro-xpress.wim" --compress xpress

step "5. Verify both results"
"$BIN/wimpatch" verify "$DEMO/pro.wim"
"$BIN/wimpatch" verify "$DEMO/pro-xpress.wim"

step "Summary"
printf '%-28s %15s bytes  (3 editions, LZX)\n' "install.wim" "$before"
printf '%-28s %15s bytes  (1 edition, LZX)\n' "pro.wim (reduce)" "$(size_of "$DEMO/pro.wim")"
printf '%-28s %15s bytes  (1 edition, XPRESS)\n' "pro-xpress.wim (export)" "$(size_of "$DEMO/pro-xpress.wim")"
echo "Files are in $DEMO/."
