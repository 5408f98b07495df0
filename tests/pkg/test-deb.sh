#!/usr/bin/env bash
# The Debian package: dpkg-buildpackage -us -uc -b on a copy of the tree (the .deb
# lands beside that copy, never beside the worktree), its file list, conffiles and
# maintainer scripts, then lintian (no errors, no warnings). Host-side, no VM; about
# 30 s (a clean -O2 build of every program + lintian).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/pkg/common.sh
W=$(mktemp -d /tmp/scsipub-deb.XXXXXX)
trap 'rm -rf "$W"' EXIT

# the tracked and new (not ignored) files: what a release of this tree would hold
mkdir "$W/scsipub"
if git rev-parse --git-dir >/dev/null 2>&1; then
  git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -C "$W/scsipub" -xf -
else
  tar --exclude=./build -cf - . | tar -C "$W/scsipub" -xf -
fi
start=$(date +%s)
(cd "$W/scsipub" && dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1
rc=$?
echo "dpkg-buildpackage: $(( $(date +%s) - start )) s"
[ "$rc" = 0 ] || tail -n 40 "$W/build.log"
deb=$(ls "$W"/scsipub_*_*.deb 2>/dev/null | head -n1)
check "dpkg-buildpackage -us -uc -b builds scsipub_*.deb" test "$rc" = 0 -a -n "$deb"
[ -n "$deb" ] || { finish; exit 1; }

files=$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./##')
for f in usr/sbin/scsipub-tcmu usr/sbin/scsipub-portal usr/sbin/scsipub-api \
         usr/sbin/scsipub-prstore usr/sbin/scsipub-ctl etc/scsipub/scsipub.conf \
         lib/systemd/system/scsipub-tcmu.service lib/systemd/system/scsipub-cfgd.service \
         lib/systemd/system/scsipub-api.service lib/systemd/system/scsipub-prstore.service \
         lib/systemd/system/scsipub-portal.service lib/systemd/system/scsipub.target \
         usr/lib/sysusers.d/scsipub.conf usr/lib/tmpfiles.d/scsipub.conf \
         usr/share/dbus-1/system.d/scsipub-tcmu.conf usr/share/doc/scsipub/copyright \
         usr/share/man/man5/scsipub.conf.5.gz usr/share/man/man8/scsipub-portal.8.gz; do
  check "package holds /$f" grep -qx "$f" <<<"$files"
done
check "nothing outside /etc, /lib/systemd, /usr" \
  bash -c "! grep -vE '^(etc/|lib/|lib/systemd/|usr/|$)' <<<'$files' | grep -v '^lib/$'"
dpkg-deb -e "$deb" "$W/ctl"
check "/etc/scsipub/scsipub.conf is a conffile" grep -qx /etc/scsipub/scsipub.conf "$W/ctl/conffiles"
check "postinst makes the scsipub user (systemd-sysusers)" grep -q 'systemd-sysusers.*scsipub.conf' "$W/ctl/postinst"
check "postinst makes the directories (systemd-tmpfiles)" grep -q 'systemd-tmpfiles.*--create scsipub.conf' "$W/ctl/postinst"
check "sysusers runs before tmpfiles in postinst" \
  bash -c "[ \$(grep -n systemd-sysusers '$W/ctl/postinst' | head -n1 | cut -d: -f1) -lt \$(grep -n systemd-tmpfiles '$W/ctl/postinst' | head -n1 | cut -d: -f1) ]"
for u in scsipub-tcmu scsipub-cfgd scsipub-api scsipub-prstore scsipub-portal scsipub.target; do
  case $u in *.target) unit=$u ;; *) unit=$u.service ;; esac
  check "postinst enables $unit" grep -q "deb-systemd-helper enable '$unit'" "$W/ctl/postinst"
done
check "postrm purge removes /var/lib/scsipub, never /etc/target" \
  bash -c "grep -q 'rm -rf /var/lib/scsipub' '$W/ctl/postrm' && ! grep -q 'rm.*/etc/target' '$W/ctl/postrm'"
check "Depends: qemu-utils (the API runs qemu-img)" bash -c "dpkg-deb -f '$deb' Depends | grep -q qemu-utils"

start=$(date +%s)
lint=$(lintian --pedantic -I "$W"/scsipub_*.changes 2>&1 | grep -v 'running with root privileges')
echo "lintian ($(( $(date +%s) - start )) s):"
echo "${lint:-(nothing)}"
echo "lintian tags: $(grep -c '^E:' <<<"$lint") E, $(grep -c '^W:' <<<"$lint") W, $(grep -c '^I:' <<<"$lint") I, $(grep -c '^P:' <<<"$lint") P"
check "lintian: no errors" bash -c "! grep -q '^E:' <<<'$lint'"
check "lintian: no warnings" bash -c "! grep -q '^W:' <<<'$lint'"
finish
