#!/usr/bin/env python3
"""Raw iSCSI probes for the private-session lab test (issue 8, test-private.sh).

Runs inside the lab guest and reuses the PDU helpers of portal-limits.py.

  status PORT INITIATOR TARGET tsih|KEY=VALUE
      Send one leading Normal Login Request (RFC 7143 §11.12) to 127.0.0.1:PORT, with
      TSIH 5 (tsih) or with the extra key KEY=VALUE, and print "status=XXXX" from the
      Login Response (§11.13.5), or "closed" when the connection ended unanswered.
  sendtargets PORT INITIATOR TARGET
      Log in to TARGET as a Normal session, send a Text Request SendTargets=All in
      Full Feature Phase (§11.10, Appendix C), print every key of the Text Response as
      "key=value" lines, then log out. PORT 3262 talks to LIO's loopback portal
      directly (what LIO itself answers), the portal's port goes through the portal.
  ahs PORT INITIATOR TARGET AHSLENGTH
      Log in to TARGET as a Normal session and send a SCSI Command (READ(32), opcode
      7Fh, on LUN 0) whose 16 CDB bytes past the BHS ride in an Extended CDB AHS
      (§11.2.2.3) of 20 bytes carrying AHSLength AHSLENGTH (17 is right, 0 is what
      Linux 6.0+ LIO copies without a check). Print "opcode=XX status=XX" of the PDU
      that answers, or "closed" when the connection ended unanswered.
  lio-name CONNS_JSON INITIATOR
      Print the lio_initiator of the live connection whose initiator is INITIATOR.
"""
import importlib.machinery
import json
import os
import struct
import sys

_here = os.path.dirname(os.path.abspath(__file__))
pl = importlib.machinery.SourceFileLoader(
    "portal_limits", os.path.join(_here, "portal-limits.py")).load_module()

NORMAL_KEYS = [("SessionType", "Normal"), ("HeaderDigest", "None"), ("DataDigest", "None"),
               ("MaxConnections", "1"), ("InitialR2T", "Yes"), ("ImmediateData", "Yes"),
               ("MaxRecvDataSegmentLength", "65536"), ("MaxBurstLength", "262144"),
               ("FirstBurstLength", "65536"), ("DefaultTime2Wait", "2"),
               ("DefaultTime2Retain", "0"), ("MaxOutstandingR2T", "1"),
               ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"),
               ("ErrorRecoveryLevel", "0"), ("IFMarker", "No"), ("OFMarker", "No")]
DECLARED = {"TargetPortalGroupTag", "TargetAlias", "TargetAddress",
            "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength"}


def leading(initiator, target, tsih=0, extra=()):
    data = pl.kvdata(("InitiatorName", initiator), ("TargetName", target), *extra,
                     *NORMAL_KEYS)
    pdu = bytearray(pl.login_pdu(data, 1, 3, True, pl.new_isid(), 1))
    pdu[14:16] = struct.pack(">H", tsih)
    return bytes(pdu)


def cmd_status(port, initiator, target, mode):
    s = pl.connect(port, "127.0.0.1")
    if mode == "tsih":
        s.sendall(leading(initiator, target, tsih=5))
    else:
        k, v = mode.split("=", 1)
        s.sendall(leading(initiator, target, extra=[(k, v)]))
    try:
        bhs, _ = pl.read_pdu(s)
    except (EOFError, OSError):
        print("closed")
        return
    print("status=%s" % bhs[36:38].hex())


def login(s, initiator, target):
    """Normal login to Full Feature Phase. Returns the StatSN to acknowledge next."""
    isid = pl.new_isid()
    s.sendall(pl.login_pdu(pl.kvdata(("InitiatorName", initiator), ("TargetName", target),
                                     *NORMAL_KEYS), 1, 3, True, isid, 1))
    for _ in range(4):
        bhs, rdata = pl.read_pdu(s)
        if bhs[0] != 0x23 or bhs[36] != 0:
            pl.die("normal login answered status %s" % bhs[36:38].hex())
        statsn = struct.unpack(">I", bhs[24:28])[0]
        if bhs[1] & 0x80 and bhs[1] & 3 == 3:
            return statsn + 1
        offered = [(k, v) for k, v in pl.parse_keys(rdata).items()
                   if k not in DECLARED and v not in ("Irrelevant", "NotUnderstood", "Reject")]
        s.sendall(pl.login_pdu(pl.kvdata(*offered), 1, 3, True, isid, 1, 1, statsn + 1))
    pl.die("no transit to Full Feature Phase")


def cmd_sendtargets(port, initiator, target):
    s = pl.connect(port, "127.0.0.1")
    exp = login(s, initiator, target)
    bhs, data = pl.text_pdu(pl.kvdata(("SendTargets", "All")), 2, 1, exp)
    s.sendall(bhs + pl.pad4(data))
    rbhs, rdata = pl.read_pdu(s)
    if rbhs[0] != 0x24:
        print("answer_opcode=0x%02x" % rbhs[0])
    for item in rdata.split(b"\0"):
        if item:
            print(item.decode(errors="replace"))
    statsn = struct.unpack(">I", rbhs[24:28])[0]
    bhs, _ = pl.logout_pdu(3, 2, statsn + 1)
    s.sendall(bhs)
    try:
        pl.read_pdu(s)
    except (EOFError, OSError):
        pass
    s.close()


def cmd_ahs(port, initiator, target, ahslength):
    s = pl.connect(port, "127.0.0.1")
    exp = login(s, initiator, target)
    cdb = bytes([0x7F, 0, 0, 0, 0, 0, 0, 0x18]) + bytes(8)    # READ(32): 32-byte CDB
    ahs = struct.pack(">HBB", ahslength, 1, 0) + bytes([0x00, 0x09]) + bytes(14)
    # SCSI Command, F and R bits, TotalAHSLength 5 words, no data, LUN 0, ITT 7,
    # Expected Data Transfer Length 512, CmdSN 1 (the login's), ExpStatSN
    bhs = struct.pack(">BBHB3s8sIIII16s", 0x01, 0xC0, 0, len(ahs) // 4, b"\0\0\0",
                      bytes(8), 7, 512, 1, exp, cdb)
    s.sendall(bhs + ahs)
    try:
        while True:
            rbhs, _ = pl.read_pdu(s)
            if rbhs[0] != 0x25:          # Data-In before the status: read on
                break
    except (EOFError, OSError):
        print("closed")
        return
    print("opcode=%02x status=%02x" % (rbhs[0], rbhs[3]))
    s.close()


def cmd_lio_name(conns, initiator):
    with open(conns) as f:
        for e in json.load(f):
            if e.get("initiator") == initiator and e.get("lio_initiator"):
                print(e["lio_initiator"])
                return
    pl.die("no live connection of %s in %s" % (initiator, conns))


def main():
    a = sys.argv[1:]
    if len(a) == 5 and a[0] == "status":
        cmd_status(int(a[1]), a[2], a[3], a[4])
    elif len(a) == 4 and a[0] == "sendtargets":
        cmd_sendtargets(int(a[1]), a[2], a[3])
    elif len(a) == 5 and a[0] == "ahs":
        cmd_ahs(int(a[1]), a[2], a[3], int(a[4]))
    elif len(a) == 3 and a[0] == "lio-name":
        cmd_lio_name(a[1], a[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
