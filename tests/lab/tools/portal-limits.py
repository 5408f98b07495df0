#!/usr/bin/env python3
"""Raw iSCSI clients for the portal's hardening lab test (issue 4, test-portal-limits.sh).

Runs inside the lab guest (the host's /usr is shared, so this python3 works there) and
talks to the portal on 127.0.0.1:PORT from chosen loopback source addresses, so each
case has its own per-address budget. Every wait is bounded; times are measured with
time.monotonic().

  flood PORT LIMIT EXTRA RELEASE_FILE
      From 127.0.0.2 open LIMIT+EXTRA connections one after another, each sending a
      discovery Login Request (RFC 7143 §11.12) and waiting for the answer. Prints
      "admitted=A refused=R first_refused=I". Then, holding the admitted ones, runs a
      whole discovery session (login, SendTargets=All, logout) from 127.0.0.3 and
      prints "other=ok targets=N", prints "holding", and keeps the connections (a
      NOP-Out ping each every 5 s) until RELEASE_FILE exists (at most 30 s); prints
      "still_open=K" at the end.
  slowloris PORT SRC normal|discovery
      normal: drip the leading Login Request one byte a second. discovery: finish the
      security stage, then drip the operational-stage Login Request. Prints
      "closed_after=S" (seconds from connect until the portal closed) or
      "still_open_after=S" after 40 s.
  halfopen PORT SRC INITIATOR TARGET CONNS_JSON ACL_DIR
      Log in (normal session, through the portal to LIO), print the ACL's NOP-In
      attributes, then never read or answer again (no NOP-Out for LIO's NOP-In).
      Prints "listed" once CONNS_JSON lists INITIATOR and "gone_after=S" when it no
      longer does (at most 60 s).
  discovery-crc PORT SRC
      A discovery session offering HeaderDigest=CRC32C and DataDigest=CRC32C; checks
      the answers, sends SendTargets=All and the Logout with digests and checks the
      digests of every response (CRC32C via ISA-L's crc32_iscsi, libisal). Prints
      "digests=CRC32C,CRC32C targets=N".
  together PORT INITIATOR TARGET CONNS_JSON ACL_DIR
      slowloris normal (from 127.0.0.4) and discovery (127.0.0.5), halfopen (127.0.0.6)
      and discovery-crc (127.0.0.7) at the same time in threads (one interpreter start
      in the guest instead of four); their lines are prefixed "loris-normal: ",
      "loris-discovery: ", "halfopen: ", "crc: ".
"""
import ctypes
import json
import os
import random
import socket
import struct
import sys
import threading
import time

HOST = "127.0.0.1"
_say_lock = threading.Lock()


def say(line, tag=""):
    with _say_lock:
        print(tag + line, flush=True)


def die(msg):
    print("error: " + msg, flush=True)
    sys.exit(1)


# ---- CRC32C (RFC 7143 §13.1) through ISA-L, the library the portal uses ----
_isal = None


def crc32c(data):
    global _isal
    if _isal is None:
        _isal = ctypes.CDLL("libisal.so.2")
        _isal.crc32_iscsi.restype = ctypes.c_uint
        _isal.crc32_iscsi.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint]
    return (~_isal.crc32_iscsi(bytes(data), len(data), 0xFFFFFFFF)) & 0xFFFFFFFF


# ---- PDUs ----
def kvdata(*pairs):
    return b"".join(("%s=%s" % (k, v)).encode() + b"\0" for k, v in pairs)


def pad4(b):
    return b + b"\0" * ((4 - len(b) % 4) % 4)


def login_pdu(data, csg, nsg, transit, isid, itt, cmdsn=1, exp_statsn=0):
    flags = (0x80 if transit else 0) | (csg << 2) | nsg
    bhs = struct.pack(">BBBBB3s6sHIHHII16x", 0x43, flags, 0, 0, 0,
                      len(data).to_bytes(3, "big"), isid, 0, itt, 0, 0, cmdsn, exp_statsn)
    return bhs + pad4(data)


def text_pdu(data, itt, cmdsn, exp_statsn):
    bhs = struct.pack(">BBHB3s8sIIII16x", 0x04, 0x80, 0, 0, len(data).to_bytes(3, "big"),
                      b"\0" * 8, itt, 0xFFFFFFFF, cmdsn, exp_statsn)
    return bhs, data


def logout_pdu(itt, cmdsn, exp_statsn):
    return struct.pack(">BBHB3s8sIHHII16x", 0x46, 0x80, 0, 0, b"\0\0\0", b"\0" * 8, itt, 0, 0,
                       cmdsn, exp_statsn), b""


def nop_out_pdu(itt):
    return struct.pack(">BBHB3s8sIIII16x", 0x40, 0x80, 0, 0, b"\0\0\0", b"\0" * 8, itt,
                       0xFFFFFFFF, 1, 0)


def with_digests(bhs, data):
    out = bhs + struct.pack("<I", crc32c(bhs))
    if data:
        out += pad4(data) + struct.pack("<I", crc32c(pad4(data)))
    return out


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return buf


def read_pdu(s, digests=False):
    bhs = recv_exact(s, 48)
    if digests:
        hd = struct.unpack("<I", recv_exact(s, 4))[0]
        if hd != crc32c(bhs):
            die("bad header digest from the portal")
    dlen = int.from_bytes(bhs[5:8], "big")
    data = recv_exact(s, len(pad4(b"\0" * dlen))) if dlen else b""
    if digests and dlen:
        dd = struct.unpack("<I", recv_exact(s, 4))[0]
        if dd != crc32c(data):
            die("bad data digest from the portal")
    return bhs, data[:dlen]


def parse_keys(data):
    out = {}
    for item in data.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            out[k.decode()] = v.decode()
    return out


def connect(port, src, timeout=10):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect((HOST, port))
    return s


def new_isid():
    return bytes([0x80, 0, 0, 0]) + random.getrandbits(16).to_bytes(2, "big")


def discovery_login(s, initiator, digest_keys=None):
    """Operational stage straight to Full Feature Phase. Returns (statsn, answers)."""
    extra = list(digest_keys or [])
    data = kvdata(("InitiatorName", initiator), ("SessionType", "Discovery"), *extra)
    s.sendall(login_pdu(data, 1, 3, True, new_isid(), 1))
    bhs, rdata = read_pdu(s)
    if bhs[0] != 0x23 or bhs[36] != 0 or not bhs[1] & 0x80 or bhs[1] & 3 != 3:
        die("discovery login answered %s" % bhs[:2].hex() + " status " + bhs[36:38].hex())
    return struct.unpack(">I", bhs[24:28])[0], parse_keys(rdata)


def discovery_session(port, src, initiator, digests=False):
    s = connect(port, src)
    dk = [("HeaderDigest", "CRC32C"), ("DataDigest", "CRC32C")] if digests else None
    statsn, ans = discovery_login(s, initiator, dk)
    if digests and (ans.get("HeaderDigest"), ans.get("DataDigest")) != ("CRC32C", "CRC32C"):
        die("digests not negotiated: %r" % ans)
    bhs, data = text_pdu(kvdata(("SendTargets", "All")), 2, 1, statsn + 1)
    s.sendall(with_digests(bhs, data) if digests else bhs + pad4(data))
    rbhs, rdata = read_pdu(s, digests)
    if rbhs[0] != 0x24 or not rbhs[1] & 0x80:
        die("SendTargets answered opcode 0x%02x" % rbhs[0])
    targets = rdata.count(b"TargetName=")
    statsn = struct.unpack(">I", rbhs[24:28])[0]
    bhs, data = logout_pdu(3, 2, statsn + 1)
    s.sendall(with_digests(bhs, data) if digests else bhs)
    rbhs, _ = read_pdu(s, digests)
    if rbhs[0] != 0x26 or rbhs[2] != 0:
        die("logout answered opcode 0x%02x response %d" % (rbhs[0], rbhs[2]))
    s.close()
    return ans, targets


def cmd_flood(port, limit, extra, release):
    admitted, refused, first_refused = [], 0, None
    for i in range(limit + extra):
        try:
            s = connect(port, "127.0.0.2", timeout=10)
            s.sendall(login_pdu(kvdata(("InitiatorName", "iqn.2025-01.test.scsipub:flood"),
                                       ("SessionType", "Discovery")), 1, 3, True, new_isid(), 1))
            bhs, _ = read_pdu(s)
            if bhs[0] != 0x23 or bhs[36] != 0:
                die("connection %d: login answered with status %s" % (i, bhs[36:38].hex()))
            admitted.append(s)
        except (EOFError, ConnectionResetError, BrokenPipeError):
            refused += 1
            if first_refused is None:
                first_refused = i
        except socket.timeout:
            die("connection %d: neither answered nor closed within 10 s" % i)
    print("admitted=%d refused=%d first_refused=%s" % (len(admitted), refused, first_refused),
          flush=True)
    ans, n = discovery_session(port, "127.0.0.3", "iqn.2025-01.test.scsipub:other")
    print("other=ok targets=%d" % n, flush=True)
    print("holding", flush=True)
    end = time.monotonic() + 30
    ping = time.monotonic()
    while not os.path.exists(release) and time.monotonic() < end:
        if time.monotonic() - ping > 5:
            # Keep the admitted sessions busy: a NOP-Out ping each (§11.18), answered
            # by a NOP-In, so no idle timeout closes them while the host checks.
            ping = time.monotonic()
            for i, s in enumerate(admitted):
                try:
                    s.sendall(nop_out_pdu(100 + i))
                    read_pdu(s)
                except (OSError, EOFError):
                    pass
        time.sleep(0.1)
    still = 0
    for s in admitted:
        s.setblocking(False)
        try:
            still += 1 if s.recv(1) else 0
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    print("still_open=%d" % still, flush=True)


def wait_closed(s, limit_s):
    """Seconds until s is closed by the peer (reading and dropping what comes)."""
    s.settimeout(0.2)
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        try:
            if not s.recv(4096):
                return time.monotonic() - t0
        except socket.timeout:
            continue
        except OSError:
            return time.monotonic() - t0
    return None


def cmd_slowloris(port, src, mode, tag=""):
    ini = "iqn.2025-01.test.scsipub:loris-" + mode
    t0 = time.monotonic()
    s = connect(port, src)
    if mode == "normal":
        pdu = login_pdu(kvdata(("InitiatorName", ini), ("TargetName", "iqn.2025-01.pub.scsipub:blank"),
                               ("SessionType", "Normal")), 1, 3, True, new_isid(), 1)
    else:
        isid = new_isid()
        s.sendall(login_pdu(kvdata(("InitiatorName", ini), ("SessionType", "Discovery"),
                                   ("AuthMethod", "None")), 0, 1, True, isid, 1))
        bhs, _ = read_pdu(s)
        if bhs[0] != 0x23 or bhs[36] != 0:
            die("security stage answered status %s" % bhs[36:38].hex())
        pdu = login_pdu(kvdata(("HeaderDigest", "None")), 1, 3, True, isid, 1, 1,
                        struct.unpack(">I", bhs[24:28])[0] + 1)
    s.settimeout(1.0)
    for b in pdu[:-1]:
        try:
            s.sendall(bytes([b]))
            if not s.recv(1):
                break
        except socket.timeout:
            pass
        except OSError:
            break
        if time.monotonic() - t0 > 40:
            say("still_open_after=%.1f" % (time.monotonic() - t0), tag)
            return
    rest = wait_closed(s, max(0.0, 40 - (time.monotonic() - t0)))
    if rest is None:
        say("still_open_after=%.1f" % (time.monotonic() - t0), tag)
    else:
        say("closed_after=%.1f" % (time.monotonic() - t0), tag)


def listed(path, initiator):
    try:
        with open(path) as f:
            return ('"initiator":"%s"' % initiator) in f.read()
    except OSError:
        return False


def cmd_halfopen(port, src, initiator, target, conns, acl_dir, tag=""):
    s = connect(port, src)
    isid = new_isid()
    # Every operational key offered up front (RFC 7143 §13), so LIO has nothing left to
    # propose; keys it proposes anyway are accepted as offered in the next request.
    data = kvdata(("InitiatorName", initiator), ("TargetName", target), ("SessionType", "Normal"),
                  ("HeaderDigest", "None"), ("DataDigest", "None"), ("MaxConnections", "1"),
                  ("InitialR2T", "Yes"), ("ImmediateData", "Yes"),
                  ("MaxRecvDataSegmentLength", "65536"), ("MaxBurstLength", "262144"),
                  ("FirstBurstLength", "65536"), ("DefaultTime2Wait", "2"),
                  ("DefaultTime2Retain", "0"), ("MaxOutstandingR2T", "1"),
                  ("DataPDUInOrder", "Yes"), ("DataSequenceInOrder", "Yes"),
                  ("ErrorRecoveryLevel", "0"), ("IFMarker", "No"), ("OFMarker", "No"))
    declared = {"TargetPortalGroupTag", "TargetAlias", "TargetAddress",
                "MaxRecvDataSegmentLength", "MaxXmitDataSegmentLength"}
    s.sendall(login_pdu(data, 1, 3, True, isid, 1))
    for rounds in range(4):
        bhs, rdata = read_pdu(s)
        if bhs[0] != 0x23 or bhs[36] != 0:
            die("normal login answered status %s" % bhs[36:38].hex())
        if bhs[1] & 0x80 and bhs[1] & 3 == 3:
            break
        offered = [(k, v) for k, v in parse_keys(rdata).items()
                   if k not in declared and v not in ("Irrelevant", "NotUnderstood", "Reject")]
        say("login round %d: flags 0x%02x, answering %r" % (rounds, bhs[1], offered), tag)
        s.sendall(login_pdu(kvdata(*offered), 1, 3, True, isid, 1, 1,
                            struct.unpack(">I", bhs[24:28])[0] + 1))
    else:
        die("no transit to Full Feature Phase")
    t0 = time.monotonic()
    say("logged_in", tag)
    # An anonymous connection's ACL is named after the identity the portal gave it
    # (connections.json "lio_initiator"), not after the name we sent (issue 8). The
    # portal writes the file at most once a second (conntab.h): wait for the entry.
    while not os.path.isdir(acl_dir) and time.monotonic() - t0 < 5:
        try:
            with open(conns) as f:
                for e in json.load(f):
                    if e.get("initiator") == initiator and e.get("lio_initiator"):
                        acl_dir = os.path.join(os.path.dirname(acl_dir), e["lio_initiator"])
        except (OSError, ValueError):
            pass
        if not os.path.isdir(acl_dir):
            time.sleep(0.1)
    try:
        with open(os.path.join(acl_dir, "attrib/nopin_timeout")) as f:
            a = f.read().strip()
        with open(os.path.join(acl_dir, "attrib/nopin_response_timeout")) as f:
            b = f.read().strip()
        say("acl_nopin=%s,%s" % (a, b), tag)
    except OSError as e:
        say("acl_nopin=unreadable (%s)" % e, tag)
    seen = False
    while time.monotonic() - t0 < 60:
        present = listed(conns, initiator)
        if present and not seen:
            seen = True
            say("listed", tag)
        if seen and not present:
            say("gone_after=%.1f" % (time.monotonic() - t0), tag)
            return
        time.sleep(0.1)
    say("still_listed_after=%.1f" % (time.monotonic() - t0), tag)


def cmd_crc(port, src, tag=""):
    ans, n = discovery_session(port, src, "iqn.2025-01.test.scsipub:crc", digests=True)
    say("digests=%s,%s targets=%d" % (ans.get("HeaderDigest"), ans.get("DataDigest"), n), tag)


def cmd_together(port, initiator, target, conns, acl_dir):
    """slowloris x2, halfopen and discovery-crc at once, each from its own address."""
    jobs = [
        (cmd_slowloris, (port, "127.0.0.4", "normal", "loris-normal: ")),
        (cmd_slowloris, (port, "127.0.0.5", "discovery", "loris-discovery: ")),
        (cmd_halfopen, (port, "127.0.0.6", initiator, target, conns, acl_dir, "halfopen: ")),
        (cmd_crc, (port, "127.0.0.7", "crc: ")),
    ]
    threads = [threading.Thread(target=f, args=a) for f, a in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def main():
    a = sys.argv[1:]
    if not a:
        die(__doc__)
    random.seed()
    if a[0] == "flood":
        cmd_flood(int(a[1]), int(a[2]), int(a[3]), a[4])
    elif a[0] == "slowloris":
        cmd_slowloris(int(a[1]), a[2], a[3])
    elif a[0] == "halfopen":
        cmd_halfopen(int(a[1]), a[2], a[3], a[4], a[5], a[6])
    elif a[0] == "discovery-crc":
        cmd_crc(int(a[1]), a[2])
    elif a[0] == "together":
        cmd_together(int(a[1]), a[2], a[3], a[4], a[5])
    else:
        die("unknown command " + a[0])


if __name__ == "__main__":
    main()
