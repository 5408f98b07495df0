#!/usr/bin/env bash
# The Vagrant lab's files, host-side (no VM, a few seconds): vagrant/Vagrantfile passes
# "vagrant validate" with Debian's vagrant and vagrant-libvirt, defines the target and
# initiator machines on the locally built box (never a Vagrant Cloud name), and
# vagrant/build-box.sh is valid bash that packs the files a libvirt box needs. The box
# build itself (mmdebstrap, about 2 min) and "vagrant up" (vagrant/lab-up.sh, two TCG
# VMs, about 5 min after the box) run by hand (README).
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/pkg/common.sh
H=$(mktemp -d /tmp/scsipub-vagrant.XXXXXX)
trap 'rm -rf "$H"' EXIT
export VAGRANT_HOME=$H/home VAGRANT_DOTFILE_PATH=$H/dot
out=$(cd vagrant && SCSIPUB_DEB=/dev/null vagrant validate 2>&1)
echo "$out" | tail -n 3
check "vagrant validate (vagrant/Vagrantfile, libvirt provider)" grep -q 'validated successfully' <<<"$out"
st=$(cd vagrant && vagrant status --machine-readable 2>/dev/null | awk -F, '$3 == "provider-name" {print $2 ":" $4}' | sort | tr '\n' ' ')
echo "machines: $st"
check "two machines, target and initiator, on the libvirt provider" \
  test "$st" = "initiator:libvirt target:libvirt "
check "the box is the locally built one (no Vagrant Cloud name)" \
  grep -q 'ENV.fetch("SCSIPUB_BOX", "scsipub/bookworm")' vagrant/Vagrantfile
check "build-box.sh: bash -n" bash -n vagrant/build-box.sh
check "build-box.sh packs metadata.json, Vagrantfile, box.img, kernel and initrd" \
  grep -q 'tar -C "$W" -cf "$BOX.tmp" metadata.json Vagrantfile box.img vmlinuz initrd.img' vagrant/build-box.sh
check "lab-up.sh: bash -n" bash -n vagrant/lab-up.sh
check "libvirt-tcg-check.sh: bash -n" bash -n vagrant/libvirt-tcg-check.sh
check "the initiator waits (bounded) for the target's portal before discovery" \
  grep -q 'for i in $(seq 180); do' vagrant/Vagrantfile
finish
