#!/usr/bin/env bash
# make install / make uninstall into a DESTDIR, the systemd units (systemd-analyze
# verify and security), and the shipped settings file against every daemon's options.
# Host-side, no VM, a few seconds.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/pkg/common.sh
top=$PWD
D=$(mktemp -d /tmp/scsipub-install.XXXXXX)
trap 'rm -rf "$D" "${V:-}"' EXIT

check "make install DESTDIR" make -s install DESTDIR="$D"
want="etc/scsipub/scsipub.conf
lib/systemd/system/scsipub-api.service
lib/systemd/system/scsipub-cfgd.service
lib/systemd/system/scsipub-portal.service
lib/systemd/system/scsipub-prstore.service
lib/systemd/system/scsipub-tcmu.service
lib/systemd/system/scsipub.target
usr/lib/scsipub/scsipub-unpack
usr/lib/sysusers.d/scsipub.conf
usr/lib/tmpfiles.d/scsipub.conf
usr/sbin/scsipub-api
usr/sbin/scsipub-ctl
usr/sbin/scsipub-portal
usr/sbin/scsipub-prstore
usr/sbin/scsipub-tcmu
usr/share/dbus-1/system.d/scsipub-tcmu.conf
usr/share/doc/scsipub/README.md
usr/share/man/man5/scsipub.conf.5
usr/share/man/man8/scsipub-api.8
usr/share/man/man8/scsipub-ctl.8
usr/share/man/man8/scsipub-portal.8
usr/share/man/man8/scsipub-prstore.8
usr/share/man/man8/scsipub-tcmu.8"
have=$(cd "$D" && find . -type f | sed 's#^\./##' | grep -v '^usr/sbin/scsipub-cfgd$\|/scsipub-cfgd.8$' | sort)
check "installed file list" test "$have" = "$want"
[ "$have" = "$want" ] || diff <(echo "$want") <(echo "$have")
if [ -x build/configfs-manager/scsipub-cfgd ]; then
  check "scsipub-cfgd installed (built), with its manual page" \
    test -x "$D/usr/sbin/scsipub-cfgd" -a -f "$D/usr/share/man/man8/scsipub-cfgd.8"
fi
check "PREFIX moves the programs" bash -c "make -s install DESTDIR='$D/p' PREFIX=/opt/sp >/dev/null && test -x '$D/p/opt/sp/sbin/scsipub-portal'"

# an operator's settings survive a re-install
echo "# mine" >>"$D/etc/scsipub/scsipub.conf"
make -s install DESTDIR="$D" >/dev/null
check "install keeps a changed scsipub.conf" grep -q '^# mine' "$D/etc/scsipub/scsipub.conf"

# units: verify (with a stand-in scsipub-cfgd until it is built) and exposure
[ -x "$D/usr/sbin/scsipub-cfgd" ] || { printf '#!/bin/sh\n' >"$D/usr/sbin/scsipub-cfgd"; chmod 755 "$D/usr/sbin/scsipub-cfgd"; }
V=$(units_for_verify "$D" "$D/lib/systemd/system")
check "systemd-analyze verify: every unit, no message" verify_units "$V"
# The API as scsipub; the portal as scsipub-portal in group scsipub (scsipub-cfgd
# serves its uid the portal's requests only: --portal-users in its unit).
for uu in api:scsipub portal:scsipub-portal; do
  u=${uu%%:*} user=${uu#*:}
  check "scsipub-$u runs as User=$user, Group=scsipub, without capabilities" \
    bash -c "grep -qx 'User=$user' '$V/scsipub-$u.service' && grep -qx 'Group=scsipub' '$V/scsipub-$u.service' &&
      grep -qx 'CapabilityBoundingSet=' '$V/scsipub-$u.service'"
done
check "scsipub-cfgd serves scsipub-portal the portal's requests only" \
  grep -q -- '--portal-users scsipub-portal' "$V/scsipub-cfgd.service"
for u in tcmu cfgd api prstore portal; do
  check "scsipub-$u: ProtectSystem=strict, NoNewPrivileges, PrivateTmp, ProtectHome" \
    bash -c "for k in ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes ProtectHome=yes; do grep -qx \"\$k\" '$V/scsipub-$u.service' || exit 1; done"
  e=$(systemd-analyze security --offline=yes --no-pager "$V/scsipub-$u.service" 2>/dev/null |
      sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  echo "exposure scsipub-$u: ${e:-?} (systemd-analyze security, 0 best .. 10)"
done
order() { # A B: B's unit says After=A
  grep -E "^After=.*\b$1\.service" "$V/$2.service" >/dev/null
}
check "order: handler before cfgd" order scsipub-tcmu scsipub-cfgd
check "order: cfgd before API" order scsipub-cfgd scsipub-api
check "order: cfgd before pr-store" order scsipub-cfgd scsipub-prstore
check "order: API and pr-store before portal" bash -c "$(declare -f order); V='$V'; order scsipub-api scsipub-portal && order scsipub-prstore scsipub-portal"

# The shipped settings file is read by every daemon: an invalid command-line value
# then fails on the command line, not on the file.
for p in tcmu-handler/scsipub-tcmu:--disk-reserve=x tls-proxy/scsipub-portal:--listen=x \
         api-server/scsipub-api:--listen=x pr-store/scsipub-prstore:--rescan-interval=0; do
  prog=${p%%:*} bad=${p#*:}
  out=$("build/$prog" --config dist/scsipub.conf "$bad" 2>&1)
  check "${prog##*/} reads dist/scsipub.conf (error is its bad option, not the file)" \
    bash -c "! grep -q 'scsipub.conf' <<<'$out' && grep -q -- '${bad%%=*}' <<<'$out'"
done
printf '[portal]\nno-such-option = 1\n' >"$D/bad.conf"
out=$(build/tls-proxy/scsipub-portal --config "$D/bad.conf" 2>&1); rc=$?
check "a bad key stops the portal with a message naming file and key" \
  bash -c "[ $rc = 2 ] && grep -q 'bad.conf: \[portal\] no-such-option' <<<'$out'"

check "make uninstall DESTDIR" make -s uninstall DESTDIR="$D"
left=$(cd "$D" && find . -type f ! -name bad.conf | grep -v '^./p/' | sed 's#^\./##' | sort)
check "uninstall leaves only the changed settings file" test "$left" = "etc/scsipub/scsipub.conf"
[ "$left" = "etc/scsipub/scsipub.conf" ] || echo "left: $left"
finish
