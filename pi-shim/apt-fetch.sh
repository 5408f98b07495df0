#!/usr/bin/env bash
# apt-fetch.sh DIR PKG...: download Debian 12 arm64 .debs into DIR/debs with a private
# apt configuration under DIR (its own sources list with main + non-free-firmware, its
# own lists, cache and an empty dpkg status, APT::Architecture=arm64). The host's apt
# configuration and state are neither read for sources nor changed.
# SCSIPUB_SHIM_MIRROR overrides the mirror (default: the one the host uses, else
# deb.debian.org).
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd); shift
mirror=${SCSIPUB_SHIM_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hsoE '^(URIs:|deb) *https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list 2>/dev/null | grep -oE 'https?://[^ ]+' | head -n1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi
mkdir -p "$dir/etc/apt.conf.d" "$dir/etc/preferences.d" "$dir/etc/sources.list.d" \
  "$dir/state/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
: >"$dir/state/status"
cat >"$dir/etc/sources.list" <<EOS
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm main non-free-firmware
deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-updates main non-free-firmware
EOS
opts=(-o "Dir::Etc=$dir/etc" -o "Dir::Etc::sourcelist=$dir/etc/sources.list"
  -o "Dir::Etc::sourceparts=$dir/etc/sources.list.d" -o "Dir::Etc::parts=$dir/etc/apt.conf.d"
  -o "Dir::Etc::preferencesparts=$dir/etc/preferences.d"
  -o "Dir::State=$dir/state" -o "Dir::State::status=$dir/state/status"
  -o "Dir::Cache=$dir/cache" -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64"
  -o "Acquire::Languages=none" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
# Lists are refreshed at most once a day.
if [ -z "$(find "$dir/state/lists" -maxdepth 1 -name '*Packages*' -mtime -1 -print -quit)" ]; then
  apt-get "${opts[@]}" update -qq >&2
fi
cd "$dir/debs"
for p in "$@"; do
  # A virtual or meta name: take what it depends on (linux-image-arm64 -> the real one).
  if [ -z "$(ls -- "${p%%=*}"_*.deb 2>/dev/null)" ]; then
    apt-get "${opts[@]}" download -qq "$p" >&2
  fi
done
ls "$dir/debs"
