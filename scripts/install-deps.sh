#!/usr/bin/env bash
# Installs the Debian packages wimpatch builds and tests against, skipping what is already installed.
#   libwim-dev   wimlib (the WIM library) and its header, linked by wim-sys
#   wimtools     wimlib-imagex: the reference the tests and benches compare against
#   libhivex-dev libhivex (registry hives), linked by hivex-sys
#   libhivex-bin hivexget/hivexsh: the tests read generated hives back with them
#   libwin-hivex-perl hivexregedit: the registry benchmark's floor (--merge of a .reg file)
#   gcc          the -sys layout tests compile a C probe against the installed headers
#   pkg-config   the build scripts try it first
#   time         /usr/bin/time -f %M gives the benchmarks peak RSS of each run
#   cabextract   an independent cab reader the fixture tests check the generated cabs against
#   rsync        the site sends images to rsync:// and ssh:// distribution points with it; the tests
#                run an rsync daemon on loopback
#   openssh-client, openssh-server  ssh:// distribution points; the tests run a throwaway sshd
#   chromium     the site status page's browser test renders `site serve` in headless Chromium
#   fonts-dejavu-core  a font for Chromium's screenshot of that page
#   systemd      systemd-analyze verify checks the shipped units (contrib/systemd)
#   postgresql   a site's shared database; the tests make a throwaway cluster (initdb + pg_ctl from
#                /usr/lib/postgresql/<version>/bin) and run every site test on it as well as on SQLite
#   zstd, xdelta3  the delta benchmark's baselines (zstd --patch-from, xdelta3 -e -s)
set -euo pipefail

packages=(libwim-dev wimtools libhivex-dev libhivex-bin libwin-hivex-perl gcc pkg-config time cabextract
  rsync openssh-client openssh-server chromium fonts-dejavu-core systemd postgresql zstd xdelta3)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all system packages present (${packages[*]})"
else
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2; exit 1
    fi
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for tool in cargo cargo-clippy rustfmt; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "deps: $tool is missing; install the Rust toolchain with clippy and rustfmt (rustup component add clippy rustfmt)" >&2
    exit 1
  fi
done
