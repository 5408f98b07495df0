#!/usr/bin/env bash
# Errors are SCSI sense data on the wire (issue 2, tcmu-handler): a write past the end
# of blank gets ILLEGAL REQUEST / LBA OUT OF RANGE (SBC-3 §4.5); once the session's
# write limit is reached, new writes get DATA PROTECT / WRITE PROTECTED while reads
# (and rewrites of already-written blocks) still work.
set -uo pipefail
source "$(dirname "$0")/common.sh"

lab_up
# 1 MiB write limit = 2048 blocks of overlay data.
check "stack starts in the lab (portal with --anon-write-limit 1048576)" start_stack --anon-write-limit 1048576

url="iscsi://127.0.0.1:$LAB_PORT/$BLANK_IQN/0"
A=iqn.2025-01.test.scsipub:sense
check "write past the end → ILLEGAL REQUEST / LBA OUT OF RANGE (5/21/00)" \
  "$PATTERN" -c a=$A "$url" a:sense:w:131072:5:0x21:0
check "writes up to the limit succeed; the next new block → DATA PROTECT / WRITE PROTECTED (7/27/00); reads and rewrites still work" \
  "$PATTERN" -c a=$A "$url" a:w:0:1024:5 a:w:4096:1024:6 a:sense:w:9000:7:0x27:0 \
  a:r:0:1024:5 a:r:4096:1024:6 a:z:9000:8 a:w:0:16:8 a:r:0:16:8
check "session torn down after logout" wait_until 60 guest_configfs_clean
finish
