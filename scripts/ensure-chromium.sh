#!/usr/bin/env bash
# Makes sure Debian's chromium is at /usr/bin/chromium for the browser tests (test/browser/).
# Idempotent: does nothing when it is already there. Quiet: prints one line either way.
# Exits non-zero with one clear line when it cannot install it (no root, no apt, no registry).
set -euo pipefail

binary=/usr/bin/chromium
if [ -x "$binary" ]; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $binary is missing and apt-get is not available to install Debian's chromium." >&2
  exit 1
fi

sudo_prefix=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo_prefix=(sudo -n)
  else
    echo "ensure-chromium: $binary is missing and installing it needs root (run: apt-get install -y chromium)." >&2
    exit 1
  fi
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! "${sudo_prefix[@]}" apt-get update -qq >"$log" 2>&1 \
  || ! "${sudo_prefix[@]}" apt-get install -y -qq --no-install-recommends chromium >>"$log" 2>&1; then
  tail -n 5 "$log" >&2
  echo "ensure-chromium: could not install Debian's chromium with apt-get (see the lines above)." >&2
  exit 1
fi

if [ ! -x "$binary" ]; then
  echo "ensure-chromium: apt-get installed chromium but $binary is still missing." >&2
  exit 1
fi
echo "ensure-chromium: installed $("$binary" --version 2>/dev/null || echo chromium)."
