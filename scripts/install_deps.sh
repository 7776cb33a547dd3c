#!/bin/sh
# `make deps`: the Debian packages the tests and the demo use (given as arguments). Instant when they
# are present; installed quietly when we are root with apt-get; otherwise stop with the one command to run.
set -eu
missing=""
for pkg in "$@"; do
  if command -v dpkg-query >/dev/null 2>&1; then
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
  fi
done
if ! command -v dpkg-query >/dev/null 2>&1; then
  command -v espeak-ng >/dev/null 2>&1 && command -v ffmpeg >/dev/null 2>&1 && command -v flite >/dev/null 2>&1 && exit 0
  echo "error: the tests need espeak-ng, ffmpeg, flite, festival and the asterisk English prompts (Debian:$*); install them" >&2
  exit 1
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing Debian packages:$missing. Run: sudo apt-get install -y --no-install-recommends$missing" >&2
  exit 1
fi
echo "installing Debian packages:$missing" >&2
log=$(mktemp)
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists yet: update only when the first try cannot find the packages.
if ! apt-get install -y -qq --no-install-recommends $missing >"$log" 2>&1; then
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    echo "error: apt-get could not install:$missing (log above)" >&2
    rm -f "$log"
    exit 1
  fi
fi
rm -f "$log"
