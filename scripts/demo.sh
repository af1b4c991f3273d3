#!/usr/bin/env bash
# `make demo`: the job wimpatch exists for, end to end, on a generated Windows 8.1-like image plus the
# real Microsoft packages of ../shared/testdata where present (each skipped by name if absent):
#   generate a 3-edition install.wim, show it, apply the real KB2938772 and a synthetic monthly series
#   (an .exe beside them gets ConfigMgr's "not supported" line), list the packages, analyze the
#   component store, service a copy with --remove-superseded --reduce-to, then a site: catalog sync,
#   image import, schedule, tick, a distribution point whose copy is checked by SHA-256.
# Prints the sizes before/after and the time of each phase.
#
# Environment: WIMPATCH_BIN_DIR (default target/release: wimpatch and wimpatch-fixtures), DEMO_DIR
# (default target/demo), DEMO_SIZE (small; the tests use tiny), WIMPATCH_TESTDATA (../shared/testdata).
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${WIMPATCH_BIN_DIR:-target/release}
DEMO=${DEMO_DIR:-target/demo}
SIZE=${DEMO_SIZE:-small}
TESTDATA=${WIMPATCH_TESTDATA:-../shared/testdata}
KB_CAB=Windows8.1-KB2938772-x64.cab
export WIMPATCH_NO_PROGRESS=1

rm -rf "$DEMO"
mkdir -p "$DEMO/updates" "$DEMO/scratch"
DEMO=$(cd "$DEMO" && pwd)
W() { "$BIN/wimpatch" --scratch-dir "$DEMO/scratch" "$@"; }
size_of() { stat -c %s "$1"; }
human() { numfmt --to=iec-i --suffix=B --format=%.1f "$1" 2>/dev/null || echo "$1 bytes"; }
now() { date +%s.%N; }
phases=()
phase_start=0
step() {
  phase_end
  phase_name="$*"
  phase_start=$(now)
  printf '\n== %s\n' "$*"
}
phase_end() {
  if [ "$phase_start" != 0 ]; then
    phases+=("$(awk -v a="$phase_start" -v b="$(now)" -v n="$phase_name" 'BEGIN { printf "%7.2f s  %s", b - a, n }')")
  fi
  phase_start=0
}
# Runs wimpatch and shows its exit status when it is not 0 (3 is partial success, expected below).
W_status() {
  local rc=0
  W "$@" || rc=$?
  echo "(exit status $rc)"
  return 0
}

step "1. Generate a synthetic 3-edition Windows 8.1 (6.3.9600) install.wim ($SIZE)"
"$BIN/wimpatch-fixtures" image --profile win81 --size "$SIZE" --out "$DEMO/install.wim" --scratch-dir "$DEMO/gen"
rm -rf "$DEMO/gen"
cp "$DEMO/install.wim" "$DEMO/install-original.wim"
size_generated=$(size_of "$DEMO/install.wim")

step "2. wimpatch info install.wim"
W info "$DEMO/install.wim"

step "3. The updates: the real $KB_CAB, a synthetic monthly series, an .exe beside them"
if [ -f "$TESTDATA/real-cbs/$KB_CAB" ]; then
  cp "$TESTDATA/real-cbs/$KB_CAB" "$DEMO/updates/"
  echo "real package: $KB_CAB"
else
  echo "skipped: $KB_CAB (not in $TESTDATA/real-cbs)"
fi
"$BIN/wimpatch-fixtures" series --profile win81 --out "$DEMO/updates"
ls -l "$DEMO/updates"

step "4. add-package into \"Windows 8.1 Pro\" without mounting (two months; the .exe is not supported)"
pkgs=("$DEMO/updates/Windows8.1-KB5000001-x64.cab" "$DEMO/updates/Windows8.1-KB5000002-x64.cab" "$DEMO/updates/ie11-setup.exe")
[ -f "$DEMO/updates/$KB_CAB" ] && pkgs=("$DEMO/updates/$KB_CAB" "${pkgs[@]}")
W_status add-package --image "$DEMO/install.wim" --index "Windows 8.1 Pro" --package-path "${pkgs[@]}" \
  --continue-on-error --log-dir "$DEMO/logs"
echo "ConfigMgr's log line for the .exe (OfflineServicingMgr.log):"
grep -h "not supported" "$DEMO/logs/OfflineServicingMgr.log" | head -n 1

step "5. get-packages of \"Windows 8.1 Pro\""
W get-packages --image "$DEMO/install.wim" --index "Windows 8.1 Pro"

step "6. cleanup-image --analyze-component-store"
W cleanup-image --image "$DEMO/install.wim" --index "Windows 8.1 Pro" --analyze-component-store

step "7. service a copy: third month, --remove-superseded --reduce-to \"Windows 8.1 Pro\""
cp "$DEMO/install.wim" "$DEMO/serviced.wim"
size_before_service=$(size_of "$DEMO/serviced.wim")
W service --image "$DEMO/serviced.wim" --reduce-to "Windows 8.1 Pro" --remove-superseded \
  --package-path "$DEMO/updates/Windows8.1-KB5000003-x64.cab" --log-dir "$DEMO/logs"
W verify "$DEMO/serviced.wim"

step "8. A site: catalog sync, import the original image (Pro only), distribution point"
export WIMPATCH_SITE="$DEMO/site"
W site init
W site catalog sync --from "$DEMO/updates"
W site image import "$DEMO/install-original.wim" --index "Windows 8.1 Pro" --single-index
W site dp add dp1 --path "$DEMO/dp1"
W site updates --image 1

step "9. Schedule every applicable update now, remove superseded, update the DPs; one tick runs it"
W site schedule --image 1 --updates all-applicable --now --continue-on-error --remove-superseded --update-dps
W_status site tick
W site image show 1

step "10. Check the distribution point's copy against the site's content"
W site dp list
dp_copy=$(find "$DEMO/dp1" -name '*.wim' -type f | head -n 1)
show_json=$(W --json site image show 1)
site_sha=$(printf '%s\n' "$show_json" | sed -n 's/.*"sha256": *"\([0-9a-f]*\)".*/\1/p' | head -n 1)
dp_sha=$(sha256sum "$dp_copy" | cut -d' ' -f1)
if [ -n "$dp_copy" ] && [ "$dp_sha" = "$site_sha" ]; then
  echo "DP copy verified: ${dp_copy#"$DEMO"/} has SHA-256 $dp_sha, the site's current content"
else
  echo "DP copy NOT verified: ${dp_copy:-none} $dp_sha != $site_sha" >&2
  exit 1
fi
phase_end

printf '\n== Summary\n'
printf '%-34s %12s\n' "install.wim (3 editions, generated)" "$(human "$size_generated")"
printf '%-34s %12s\n' "install.wim after add-package" "$(human "$(size_of "$DEMO/install.wim")")"
printf '%-34s %12s\n' "serviced.wim before service" "$(human "$size_before_service")"
printf '%-34s %12s\n' "serviced.wim (Pro, superseded gone)" "$(human "$(size_of "$DEMO/serviced.wim")")"
printf '%-34s %12s\n' "DP copy (site content)" "$(human "$(size_of "$dp_copy")")"
printf '\nTime per phase:\n'
printf '  %s\n' "${phases[@]}"
echo "Files and logs are in $DEMO/."
