"""Host-side client for the test guest agent (tests/agent/test-agent.c).

The agent listens on the virtio-serial port "org.hypeman.agent.0"; QEMU
exposes that port as a UNIX socket on the host (chardev socket,
server=on,wait=off).  Protocol: tests/agent/README.md.

Standard library only.  Every call has a deadline: when nobody in the guest
answers (QEMU accepts connections even then), AgentError is raised with a
message containing "guest agent not reachable".

Command line (for debugging):  python3 tests/lib/agent.py SOCKET CMD [ARG...]
"""

import os
import socket
import struct
import sys
import time
import zlib

__all__ = ["AgentError", "run", "sh", "wait_ready", "ping"]

REQ_MAGIC = b"HMA1"
RSP_MAGIC = b"HMR1"
_RSP_HDR = struct.Struct("<4sIiIII")    # magic, id, code, out len, err len, crc
_OUT_CAP = 4 << 20                      # agent caps stdout/stderr at 4 MiB
_MAX_PAYLOAD = _OUT_CAP + 64 * 1024     # + the agent's own notes


class AgentError(Exception):
    """The agent could not be reached, or the exchange failed."""


class _Timeout(Exception):
    pass


def _new_id():
    while True:
        rid = struct.unpack("<I", os.urandom(4))[0]
        if rid:
            return rid


def _encode(rid, argv, stdin, timeout_ms):
    if not argv:
        raise ValueError("argv must not be empty")
    parts = [struct.pack("<I", len(argv))]
    for a in argv:
        b = os.fsencode(a) if isinstance(a, str) else bytes(a)
        if b"\0" in b:
            raise ValueError("argument contains NUL: %r" % (a,))
        parts += [struct.pack("<I", len(b)), b]
    stdin = stdin.encode() if isinstance(stdin, str) else bytes(stdin)
    parts += [struct.pack("<I", len(stdin)), stdin]
    body = b"".join(parts)
    hdr = REQ_MAGIC + struct.pack("<III", rid, timeout_ms, len(body))
    return (hdr + struct.pack("<I", zlib.crc32(hdr)) + body
            + struct.pack("<I", zlib.crc32(body)))


def _valid_rsp_header(buf, i):
    """(id, code, out_len, err_len) when a valid response header starts at
    buf[i] (the whole header present), else None."""
    magic, rid, code, olen, elen, crc = _RSP_HDR.unpack_from(buf, i)
    if magic != RSP_MAGIC or zlib.crc32(buf[i:i + 20]) != crc:
        return None
    if olen > _MAX_PAYLOAD or elen > _MAX_PAYLOAD:
        return None
    return rid, code, olen, elen


def _remaining(deadline):
    return deadline - time.monotonic()


def _connect(sock_path, deadline):
    """Connect to QEMU's socket, retrying until deadline (QEMU may still be
    starting, or its socket file may not exist yet)."""
    last = None
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(max(0.05, _remaining(deadline)))
            s.connect(sock_path)
            return s
        except OSError as e:    # ENOENT, ECONNREFUSED, timeout, ...
            s.close()
            last = e
        left = _remaining(deadline)
        if left <= 0:
            raise AgentError("guest agent not reachable: cannot connect to %s: %s"
                             % (sock_path, last))
        time.sleep(min(0.05, left))


class _Conn:
    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data, deadline):
        left = _remaining(deadline)
        if left <= 0:
            raise _Timeout()
        self.sock.settimeout(left)
        try:
            self.sock.sendall(data)
        except socket.timeout:
            raise _Timeout()

    def _fill(self, deadline):
        left = _remaining(deadline)
        if left <= 0:
            raise _Timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 16)
        except socket.timeout:
            raise _Timeout()
        if not data:
            raise AgentError("guest agent not reachable: connection closed "
                             "(QEMU gone?)")
        self.buf += data

    def read_response(self, deadline):
        """Next response frame (id, code, stdout, stderr).

        Skips garbage, frames whose crc does not match, and an incomplete
        frame followed by a new one (stale bytes of an abandoned answer)."""
        buf = self.buf
        H = _RSP_HDR.size
        scanned = 0     # positions below this start no valid header
        while True:
            i = buf.find(RSP_MAGIC)
            if i < 0:
                del buf[:max(0, len(buf) - 3)]
                scanned = 0
                self._fill(deadline)
                continue
            if i:
                del buf[:i]
                scanned = max(0, scanned - i)
            if len(buf) < H:
                self._fill(deadline)
                continue
            hdr = _valid_rsp_header(buf, 0)
            if hdr is None:
                del buf[:1]
                scanned = max(0, scanned - 1)
                continue
            rid, code, olen, elen = hdr
            need = H + olen + elen + 4
            # a newer frame's header inside this one?
            s = max(scanned, 1)
            end = min(need - 1 + 4, len(buf))
            switch = None
            while end >= s + 4:
                q = buf.find(RSP_MAGIC, s, end)
                if q < 0:
                    s = end - 3
                    break
                if q + H > len(buf):
                    s = q
                    break
                if _valid_rsp_header(buf, q) is not None:
                    s = switch = q
                    break
                s = q + 1
            scanned = s
            if switch is not None:
                del buf[:switch]
                scanned = 0
                continue
            if len(buf) < need:
                self._fill(deadline)
                continue
            payload = bytes(buf[H:need - 4])
            if zlib.crc32(payload) != struct.unpack_from("<I", buf, need - 4)[0]:
                del buf[:1]
                scanned = max(0, scanned - 1)
                continue
            del buf[:need]
            return rid, code, payload[:olen], payload[olen:]


def _agent_timeout_ms(timeout):
    # The agent kills the command a little before the host gives up, so a
    # slow command yields a real answer (137 + a note on stderr) rather than
    # "not reachable".
    slack = min(2.0, timeout * 0.2)
    return max(100, int((timeout - slack) * 1000))


def _exchange(sock_path, argv, stdin, ids, deadline, agent_timeout_ms):
    """Connect, send one request, wait for a response whose id is in ids
    (the new request's id is added).  Raises _Timeout or AgentError."""
    conn = _Conn(_connect(sock_path, deadline))
    try:
        rid = _new_id()
        ids.add(rid)
        try:
            conn.send(_encode(rid, argv, stdin, agent_timeout_ms), deadline)
            while True:
                got, code, out, err = conn.read_response(deadline)
                if got in ids:
                    return code, out, err
                # a stale answer to an earlier, timed-out request: skip it
        except (BrokenPipeError, ConnectionResetError) as e:
            raise AgentError("guest agent not reachable: %s: %s" % (sock_path, e))
    finally:
        conn.close()


def run(sock_path, argv, stdin=b"", timeout=30.0):
    """Run argv in the guest; return (code, stdout, stderr).

    code: exit status, 128+N when killed by signal N (137 also on the agent's
    timeout, with a note on stderr), 127 not found, 126 not executable, -1 an
    agent error (message on stderr).  stdout/stderr are capped at 4 MiB each.
    """
    argv = list(argv)
    deadline = time.monotonic() + timeout
    try:
        return _exchange(sock_path, argv, stdin, set(), deadline,
                         _agent_timeout_ms(timeout))
    except _Timeout:
        raise AgentError("guest agent not reachable: no answer on %s within "
                         "%.1fs (argv %r)" % (sock_path, timeout, argv[:3]))


def sh(sock_path, cmd, timeout=30.0):
    """Run cmd with /bin/sh -c in the guest; return (code, stdout, stderr)."""
    return run(sock_path, ["/bin/sh", "-c", cmd], timeout=timeout)


def ping(sock_path, timeout=5.0):
    """True when the agent answers one @ping within timeout."""
    try:
        code, out, _ = run(sock_path, ["@ping"], timeout=timeout)
    except AgentError:
        return False
    return code == 0 and out == b"pong"


def wait_ready(sock_path, timeout):
    """Send @ping until the agent answers; raise AgentError on the deadline.

    Each attempt uses a fresh connection (bytes queued on an old one are
    dropped with it) and a growing window; an answer to any ping sent by
    this call counts.
    """
    start = time.monotonic()
    deadline = start + timeout
    ids = set()
    window = 2.0
    last = "no attempt"
    while True:
        left = _remaining(deadline)
        if left <= 0:
            raise AgentError("guest agent not reachable via %s after %.1fs (%s)"
                             % (sock_path, timeout, last))
        t0 = time.monotonic()
        attempt_deadline = t0 + min(left, window)
        try:
            code, out, err = _exchange(sock_path, ["@ping"], b"", ids,
                                       attempt_deadline, 1000)
            if code == 0 and out == b"pong":
                return
            last = "unexpected answer to @ping: code=%d out=%r err=%r" % (
                code, out[:100], err[:200])
        except _Timeout:
            last = "no answer to @ping"
        except AgentError as e:
            last = str(e)
        window = min(window * 1.5, 10.0)
        # do not spin when the failure was immediate (e.g. QEMU gone)
        spent = time.monotonic() - t0
        if spent < 0.1:
            time.sleep(min(0.1 - spent, max(0.0, _remaining(deadline))))


def _main(args):
    usage = "usage: agent.py SOCKET CMD [ARG...]   (CMD @ping pings)\n"
    if args in (["-h"], ["--help"]):
        sys.stdout.write(usage + "Runs CMD through the test guest agent at SOCKET (a VM's agent.sock);\n"
                         "its stdin is ours unless a terminal, AGENT_TIMEOUT seconds (default 30).\n")
        return 0
    if len(args) < 2:
        sys.stderr.write(usage)
        return 2
    stdin = b"" if sys.stdin.isatty() else sys.stdin.buffer.read()
    code, out, err = run(args[0], args[1:], stdin=stdin,
                         timeout=float(os.environ.get("AGENT_TIMEOUT", "30")))
    sys.stdout.buffer.write(out)
    sys.stderr.buffer.write(err)
    return code & 0xff if code >= 0 else 255


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
