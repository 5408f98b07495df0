#!/bin/sh
# gadget.sh — make (or remove) the configfs USB gadget that carries the bridge's
# FunctionFS function, and run scsipub-usb-gadget on it.
#   gadget.sh up   FFS_DIR [UDC]   create gadget "scsipub", mount functionfs at FFS_DIR
#   gadget.sh bind [UDC]           bind to the UDC (first one in /sys/class/udc by
#                                  default) once scsipub-usb-gadget wrote its descriptors
#   gadget.sh down FFS_DIR         unbind, unmount, remove the gadget
# Full speed, as the ESP32-S3 (max_speed=full-speed). Needs libcomposite and usb_f_fs
# loaded, configfs mounted at /sys/kernel/config. On a Pi: dtoverlay=dwc2.
set -eu
G=/sys/kernel/config/usb_gadget/scsipub
cmd=${1:-}
case $cmd in
up)
	ffs=$2
	mkdir -p "$G"
	echo 0x1d6b >"$G/idVendor"       # Linux Foundation
	echo 0x0104 >"$G/idProduct"      # Multifunction Composite Gadget
	echo 0x0200 >"$G/bcdUSB"
	echo full-speed >"$G/max_speed" 2>/dev/null || true
	mkdir -p "$G/strings/0x409" "$G/configs/c.1/strings/0x409" "$G/functions/ffs.bridge"
	echo scsipub >"$G/strings/0x409/manufacturer"
	echo "iSCSI USB bridge" >"$G/strings/0x409/product"
	echo 0001 >"$G/strings/0x409/serialnumber"
	echo "bridge" >"$G/configs/c.1/strings/0x409/configuration"
	echo 100 >"$G/configs/c.1/MaxPower"
	[ -e "$G/configs/c.1/ffs.bridge" ] || ln -s "$G/functions/ffs.bridge" "$G/configs/c.1/"
	mkdir -p "$ffs"
	mountpoint -q "$ffs" || mount -t functionfs bridge "$ffs"
	;;
bind)
	udc=${2:-$(ls /sys/class/udc | head -n1)}
	echo "$udc" >"$G/UDC"
	;;
down)
	ffs=$2
	[ -e "$G/UDC" ] && echo "" >"$G/UDC" 2>/dev/null || true
	mountpoint -q "$ffs" && umount "$ffs" || true
	rm -f "$G/configs/c.1/ffs.bridge"
	rmdir "$G/configs/c.1/strings/0x409" "$G/configs/c.1" "$G/functions/ffs.bridge" \
		"$G/strings/0x409" "$G" 2>/dev/null || true
	;;
*)
	echo "usage: gadget.sh up FFS_DIR | bind [UDC] | down FFS_DIR" >&2
	exit 2
	;;
esac
