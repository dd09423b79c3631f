"""The boot pipeline, phase by phase, on real disks.

Each test boots the init under test ($HYPEMAN_INITRD) with an image made
from Debian's static busybox and checks one point of contract: Boot phases
from the outside: in the guest through the test agent, on the console, and
on the disks after the guest powered off.

Guests that are inspected run `/bin/sleep 600`; they are stopped with
SIGTERM to PID 1 (what the host's agent does), so init's exit path runs
(forward, HYPEMAN-EXIT, unmount, power off) before the disks are read.

The smoke test (the normal boot's tests: overlay, config, agent, the boot
log; volumes; network) and the hostile image (openat2 RESOLVE_IN_ROOT: its
syscall number comes from libc) run for each architecture (multiarch).

Run: /usr/bin/python3 -m pytest tests/vm/test_pipeline.py -q
"""

import gzip
import os
import re
import stat

import pytest

from lib import agent, disks, images
from lib.vm import VM, Initramfs, concat_initrd

HELLO = "hello from the image\n"
SLEEP = ["/bin/sleep", "600"]
BOOT_PHASES = ("mount", "modules", "overlay", "config", "volumes", "network",
               "egress-ca", "agent", "switch")
# the phase names of contract: Log
CONTRACT_PHASES = {"boot", "mount", "modules", "overlay", "config", "volumes", "network",
               "gpu", "agent", "headers", "switch", "exec", "systemd", "shutdown",
               "rescue", "egress-ca", "agent-start"}
RFC3339_MS_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
NET_CONFIG = {"network_enabled": True, "guest_ip": "10.0.2.15", "guest_cidr": 24,
              "guest_gw": "10.0.2.2", "guest_dns": "10.0.2.3"}


# ---- helpers ------------------------------------------------------------------

def make_guest(tmp, config, files=None, symlinks=None, volumes=(), fs="ext4", arch=None):
    """Disks for an image (busybox for ARCH) with /etc/hello plus FILES/SYMLINKS."""
    files = dict({"/etc/hello": HELLO}, **(files or {}))
    root = images.rootfs(os.path.join(str(tmp), "root"), files=files, symlinks=symlinks,
                         arch=arch)
    return images.Guest(os.path.join(str(tmp), "disks"), root, config,
                        volumes=volumes, fs=fs)


def boot_for_agent(vm_factory, guest, **kw):
    """Boot and wait until the test agent answers."""
    vm = vm_factory(disks=guest.disks, **kw)
    try:
        agent.wait_ready(vm.agent_socket, 60)
    except agent.AgentError as e:
        raise AssertionError("%s\n--- console ---\n%s" % (e, vm.console_tail(60)))
    return vm


def gsh(vm, cmd, ok=True):
    """Run a shell command in the guest; its stdout as text. With ok=True a
    non-zero status fails the test; else (code, stdout, stderr)."""
    code, out, err = agent.sh(vm.agent_socket, cmd, timeout=30)
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    if not ok:
        return code, out, err
    assert code == 0, "guest: %r exited %d\nstdout: %s\nstderr: %s" % (cmd, code, out, err)
    return out


def stop_guest(vm):
    """SIGTERM to PID 1 from inside the guest, as the host's agent does;
    wait for the power-off. The answer may be lost (the agent is killed
    on the way down), which is fine."""
    try:
        agent.sh(vm.agent_socket, "kill -TERM 1", timeout=10)
    except agent.AgentError:
        pass
    vm.wait_exit(60)
    vm.assert_no_panic()
    ex = vm.exit_marker()
    assert ex is not None, "no HYPEMAN-EXIT marker: init's exit path did not run"


def _unescape(s):
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)


def mountinfo(text):
    """[{id, parent, root, mnt, opts, fstype, source}] from mountinfo text."""
    mounts = []
    unesc = _unescape
    for line in text.splitlines():
        pre, _, post = line.partition(" - ")
        f, g = pre.split(), post.split()
        if len(f) < 6 or len(g) < 2:
            continue
        mounts.append({"id": int(f[0]), "parent": int(f[1]), "root": unesc(f[3]),
                       "mnt": unesc(f[4]), "opts": f[5].split(","),
                       "fstype": g[0], "source": g[1]})
    return mounts


def mount_at(mounts, path):
    """The mount visible at PATH (the last one mounted there), or None."""
    found = [m for m in mounts if m["mnt"] == path]
    return found[-1] if found else None


def initrd_member(path, name):
    """Contents of NAME (e.g. "usr/local/bin/guest-agent") in a gzip or
    plain newc initrd (the last copy wins, as in the kernel), or None."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    found, i = None, 0
    while i + 110 <= len(raw):
        if raw[i] == 0:
            i += 1
            continue
        fields = [int(raw[i + 6 + 8 * k:i + 14 + 8 * k], 16) for k in range(13)]
        name_end = i + 110 + fields[11]
        entry = raw[i + 110:name_end - 1].decode(errors="replace").lstrip("/")
        start = name_end + (-name_end % 4)
        end = start + fields[6]
        if entry == name and stat.S_ISREG(fields[1]):
            found = raw[start:end]
        i = end + (-end % 4)
    return found


def read_disk(img, path):
    """A file on an ext4 disk after power-off, or None when missing."""
    return disks.read_file_from_ext4(img, path)


def fsck_report(img):
    return disks.e2fsck_clean(img)[1]


def assert_disk_clean(img):
    """The guest left IMG cleanly unmounted (or read-only remounted): no
    journal to replay, no errors. debugfs does not replay the journal, so
    only then do reads from the host show what the guest wrote (and contract: Exec mode:
    the ext4 disks need no journal recovery after the exit path)."""
    clean, report = disks.e2fsck_clean(img)
    assert clean, "%s not clean after power-off:\n%s" % (img, report)


def logs(vm, phase=None, level=None):
    return [l for l in vm.log_lines()
            if (phase is None or l.get("phase") == phase)
            and (level is None or l.get("level") == level)]


def log_summary(vm):
    return "\n".join("%s %s %s" % (l.get("level"), l.get("phase"), l.get("msg"))
                     for l in vm.log_lines())


def console_lines(vm):
    return [l.rstrip("\r") for l in vm.lines()]


# ---- one ordinary boot, looked at by several tests ---------------------------

class Observed:
    """What a normal boot showed: in the guest, on the console and on the
    disks after power-off."""


@pytest.fixture(scope="module")
def _normal_boot(tmp_path_factory, kernel, initrd, arch):
    tmp = tmp_path_factory.mktemp("normal")
    g = make_guest(tmp, {"cmd": SLEEP}, files={"/srv/image-only.txt": "image file\n"},
                   arch=arch)
    o = Observed()
    o.guest, o.initrd = g, initrd
    o.vda_sha_before = disks.sha256(g.vda)
    vm = o.vm = VM(tmp / "vm", initrd, disks=g.disks, kernel=kernel[0], arch=arch)
    vm.start()
    try:
        agent.wait_ready(vm.agent_socket, 60)
        o.mountinfo = mountinfo(gsh(vm, "cat /proc/self/mountinfo"))
        o.hello = gsh(vm, "cat /etc/hello")
        o.image_only = gsh(vm, "cat /srv/image-only.txt")
        o.agent_stat = gsh(vm, "stat -c '%a %F' /opt/hypeman/guest-agent").strip()
        # new file and a changed image file, no sync: init's exit path must
        # get them to the overlay disk
        gsh(vm, "printf 'written in the guest\\n' > /root/written.txt; "
                "printf 'changed in the guest\\n' > /etc/hello")
        o.hello_after = gsh(vm, "cat /etc/hello")
        stop_guest(vm)
    finally:
        vm.kill()
    o.vda_sha_after = disks.sha256(g.vda)
    return o


@pytest.fixture
def normal(request, _normal_boot):
    request.node._hypeman_vms = [_normal_boot.vm]   # console tail on failure
    return _normal_boot


@pytest.mark.multiarch
def test_root_is_overlay_and_image_readable(normal):
    """`/` in the guest is an overlayfs, and the image's files read through it."""
    root = mount_at(normal.mountinfo, "/")
    assert root is not None, normal.mountinfo
    assert root["fstype"] == "overlay", "/ is %r" % root
    assert normal.hello == HELLO
    assert normal.image_only == "image file\n"
    assert normal.hello_after == "changed in the guest\n"


@pytest.mark.multiarch
def test_guest_writes_land_on_overlay_disk_not_image(normal):
    """Files written in the guest (no sync; stopped by SIGTERM to PID 1) are
    in vdb's upper/ after power-off; vda is byte-for-byte unchanged."""
    vdb = normal.guest.vdb
    assert read_disk(vdb, "/upper/root/written.txt") == b"written in the guest\n", \
        fsck_report(vdb)
    assert read_disk(vdb, "/upper/etc/hello") == b"changed in the guest\n", fsck_report(vdb)
    assert_disk_clean(vdb)
    assert normal.vda_sha_after == normal.vda_sha_before, "the image disk was written"
    assert read_disk(normal.guest.vda, "/root/written.txt") is None
    assert read_disk(normal.guest.vda, "/etc/hello") == HELLO.encode()


@pytest.mark.multiarch
def test_agent_installed_0755_and_answers(normal):
    """/opt/hypeman/guest-agent is a regular file, mode 0755, a copy of the
    initrd's agent (on the overlay disk), and it answered the host."""
    assert normal.agent_stat == "755 regular file"
    installed = read_disk(normal.guest.vdb, "/upper/opt/hypeman/guest-agent")
    assert installed is not None, "agent not on the overlay disk"
    src = initrd_member(normal.initrd, "usr/local/bin/guest-agent")
    assert src is not None, "no usr/local/bin/guest-agent in %s" % normal.initrd
    assert installed == src
    st = disks.stat_ext4(normal.guest.vdb, "/upper/opt/hypeman/guest-agent")
    assert st["type"] == "regular" and st["mode"] == 0o755
    assert "test-agent: ready" in normal.vm.console_text


@pytest.mark.multiarch
def test_boot_log_shows_phase_durations(normal):
    """Every boot phase ends with a line carrying dur_ms, in the order of
    contract: Boot phases; every JSON line has time (RFC3339 UTC, ms, Z),
    level, phase, msg, uptime_ms with the right types; the first is phase
    boot; a normal boot logs no ERROR and no garbled line."""
    vm = normal.vm
    log = vm.log_lines()
    assert log and log[0]["phase"] == "boot"
    for l in log:
        assert isinstance(l.get("time"), str) and RFC3339_MS_Z.fullmatch(l["time"]), l
        assert l.get("level") in ("INFO", "WARN", "ERROR"), l
        assert l.get("phase") in CONTRACT_PHASES, l
        assert isinstance(l.get("msg"), str), l
        assert type(l.get("uptime_ms")) is int and l["uptime_ms"] >= 0, l
        if "dur_ms" in l:
            assert type(l["dur_ms"]) is int and l["dur_ms"] >= 0, l
        if "error" in l:
            assert isinstance(l["error"], str), l
    ends = {}
    for i, l in enumerate(log):
        if "dur_ms" in l:
            ends.setdefault(l["phase"], i)
    missing = [p for p in BOOT_PHASES if p not in ends]
    assert not missing, "phases without a dur_ms line: %s\n%s" % (missing, log_summary(vm))
    order = [ends[p] for p in BOOT_PHASES]
    assert order == sorted(order), "phases ended out of order: %s" % (
        sorted(BOOT_PHASES, key=ends.get),)
    # durations fit in the time the boot took
    total = sum(log[ends[p]]["dur_ms"] for p in BOOT_PHASES)
    assert total <= log[ends["switch"]]["uptime_ms"]
    assert not logs(vm, level="ERROR"), log_summary(vm)
    assert not vm.malformed_log_lines()


# ---- image file systems ----------------------------------------------------------

@pytest.mark.parametrize("fs", ["ext4", "erofs"])
def test_image_filesystem_boots(vm_factory, tmp_path, fs):
    """An erofs and an ext4 image disk both become the root: the program
    reads the image's file and /dev/vda is mounted with that type."""
    g = make_guest(tmp_path, {
        "cmd": ["/bin/sh", "-c", "cat /etc/hello; grep '^/dev/vda ' /proc/mounts"],
        "skip_guest_agent": True}, fs=fs)
    vm = vm_factory(disks=g.disks)
    vm.wait_exit(60)
    vm.assert_no_panic()
    lines = console_lines(vm)
    assert HELLO.strip() in lines, vm.console_tail()
    vda = [l.split() for l in lines if l.startswith("/dev/vda ")]
    assert vda and vda[0][2] == fs, "vda mounts: %s" % vda
    assert vm.exit_marker()["code"] == 0


# ---- volumes -----------------------------------------------------------------------

@pytest.mark.multiarch
def test_volumes_ro_rw_overlay(vm_factory, tmp_path, arch):
    """ro, rw and overlay volumes are mounted at their paths: the ro one
    refuses writes; the rw one keeps data on its disk after power-off; the
    overlay one puts writes on its overlay device (upper/) and leaves its
    base device unchanged."""
    vol = tmp_path / "vol"
    ro_src, base_src = vol / "ro-src", vol / "base-src"
    ro_src.mkdir(parents=True)
    base_src.mkdir()
    (ro_src / "ro.txt").write_text("read-only volume\n")
    (base_src / "base.txt").write_text("base content\n")
    vdd = disks.ext4_from_dir(vol / "vdd.img", ro_src, 16)
    vde = disks.empty_ext4(vol / "vde.img", 16)
    vdf = disks.ext4_from_dir(vol / "vdf.img", base_src, 16)
    vdg = disks.empty_ext4(vol / "vdg.img", 16)
    before = {p: disks.sha256(p) for p in (vdd, vdf)}
    g = make_guest(tmp_path, {"cmd": SLEEP, "volume_mounts": [
        {"device": "/dev/vdd", "path": "/data/ro", "mode": "ro"},
        {"device": "/dev/vde", "path": "/data/rw", "mode": "rw"},
        {"device": "/dev/vdf", "path": "/data/ov", "mode": "overlay",
         "overlay_device": "/dev/vdg"}]}, volumes=[vdd, vde, vdf, vdg], arch=arch)
    vm = boot_for_agent(vm_factory, g)

    mounts = mountinfo(gsh(vm, "cat /proc/self/mountinfo"))
    ro, rw, ov = (mount_at(mounts, p) for p in ("/data/ro", "/data/rw", "/data/ov"))
    assert ro and ro["fstype"] == "ext4" and "ro" in ro["opts"], ro
    assert rw and rw["fstype"] == "ext4" and "rw" in rw["opts"], rw
    assert ov and ov["fstype"] == "overlay", ov
    assert gsh(vm, "cat /data/ro/ro.txt") == "read-only volume\n"
    code, _, err = gsh(vm, "echo x > /data/ro/new.txt", ok=False)
    assert code != 0 and "Read-only file system" in err, (code, err)
    gsh(vm, "printf 'rw data\\n' > /data/rw/rw.txt")
    assert gsh(vm, "cat /data/ov/base.txt") == "base content\n"
    gsh(vm, "printf 'overlay data\\n' > /data/ov/new.txt; "
            "printf 'changed\\n' > /data/ov/base.txt")
    stop_guest(vm)

    assert read_disk(vde, "/rw.txt") == b"rw data\n", fsck_report(vde)
    assert read_disk(vdg, "/upper/new.txt") == b"overlay data\n", fsck_report(vdg)
    assert read_disk(vdg, "/upper/base.txt") == b"changed\n", fsck_report(vdg)
    assert_disk_clean(vde)
    assert_disk_clean(vdg)
    for p, h in before.items():
        assert disks.sha256(p) == h, "%s (read-only / overlay base) was written" % p
    assert read_disk(vdd, "/new.txt") is None


# ---- network -------------------------------------------------------------------------

@pytest.mark.multiarch
def test_network_configured_and_resolv_conf_survives_etc_volumes(vm_factory, tmp_path, arch):
    """network_enabled: eth0 has 10.0.2.15/24 and is up, the default route
    goes via 10.0.2.2, /etc/resolv.conf is exactly "nameserver 10.0.2.3",
    even with a volume on /etc (resolv.conf is written after the volumes,
    so it lands on that volume) and another on /etc/ssl. Nothing is sent
    anywhere: only the configuration is read."""
    vol = tmp_path / "vol"
    ssl_src = vol / "ssl"
    ssl_src.mkdir(parents=True)
    (ssl_src / "cert.pem").write_text("not really a cert\n")
    vdd = disks.empty_ext4(vol / "etc.img", 16)
    vde = disks.ext4_from_dir(vol / "ssl.img", ssl_src, 16)
    g = make_guest(tmp_path, dict(NET_CONFIG, cmd=SLEEP, volume_mounts=[
        {"device": "/dev/vdd", "path": "/etc", "mode": "rw"},
        {"device": "/dev/vde", "path": "/etc/ssl", "mode": "ro"}]),
        volumes=[vdd, vde], arch=arch)
    vm = boot_for_agent(vm_factory, g, net=True)

    addr = gsh(vm, "ip -4 addr show dev eth0")
    assert re.search(r"^\s*inet 10\.0\.2\.15/24\b", addr, re.M), addr
    assert re.search(r"\bUP\b", gsh(vm, "ip link show dev eth0")), "eth0 not up"
    routes = gsh(vm, "ip -4 route show")
    assert re.search(r"^default via 10\.0\.2\.2 dev eth0\b", routes, re.M), routes
    assert gsh(vm, "cat /etc/resolv.conf").splitlines() == ["nameserver 10.0.2.3"]
    assert gsh(vm, "cat /etc/ssl/cert.pem") == "not really a cert\n"
    mounts = mountinfo(gsh(vm, "cat /proc/self/mountinfo"))
    assert mount_at(mounts, "/etc") and mount_at(mounts, "/etc/ssl")
    stop_guest(vm)
    assert read_disk(vdd, "/resolv.conf") == b"nameserver 10.0.2.3\n", fsck_report(vdd)
    assert_disk_clean(vdd)


# ---- guest agent ----------------------------------------------------------------------

def test_skip_guest_agent_installs_nothing(vm_factory, tmp_path):
    """skip_guest_agent: /opt/hypeman/guest-agent is absent in the guest and
    on the overlay disk, and no agent starts."""
    g = make_guest(tmp_path, {"skip_guest_agent": True, "cmd": [
        "/bin/sh", "-c",
        "ls -l /opt/hypeman 2>&1; if [ -e /opt/hypeman/guest-agent ]; "
        "then echo AGENT-PRESENT; else echo AGENT-ABSENT; fi"]})
    vm = vm_factory(disks=g.disks)
    vm.wait_exit(60)
    vm.assert_no_panic()
    lines = console_lines(vm)
    assert "AGENT-ABSENT" in lines and "AGENT-PRESENT" not in lines, vm.console_tail()
    assert "test-agent: started" not in vm.console_text
    assert read_disk(g.vdb, "/upper/opt/hypeman/guest-agent") is None


# ---- switch root -----------------------------------------------------------------------

BALLAST_MB = 32


def test_initramfs_gone_after_switch(vm_factory, tmp_path, initrd):
    """After the switch the initramfs is neither reachable nor kept in
    memory, and the config disk is unmounted, both once the program runs.
    The initrd gets a 32 MiB ballast file: had the initramfs not been
    emptied, its pages would stay in the page cache (tmpfs/ramfs: "Cached"
    in /proc/meminfo) for good. Also: / is the overlay for PID 1 too, and
    none of the initramfs' files is visible."""
    ballast = Initramfs().file("/hypeman-ballast", b"\xa5" * (BALLAST_MB << 20))
    big_initrd = concat_initrd(tmp_path / "initrd-ballast", initrd, ballast)
    g = make_guest(tmp_path, {"cmd": SLEEP})
    vm = boot_for_agent(vm_factory, g, initrd=big_initrd, append_extra="hypeman.debug=1")
    # the release follows the program's start (debug: its line)
    vm.wait_for("config disk unmounted, initramfs freed", 60)
    assert vm.console_text.index("HYPEMAN-PROGRAM-START") < vm.console_text.index(
        "config disk unmounted, initramfs freed")
    code, _, _ = gsh(vm, "test -e /proc/fs/ext4/vdc", ok=False)
    assert code != 0, "the config disk vdc is still mounted (/proc/fs/ext4/vdc)"

    for p in ("/hypeman-ballast", "/init", "/etc/hypeman/modules",
              "/usr/local/bin/guest-agent", "/lib/modules", "/lower", "/mnt/config"):
        code, _, _ = gsh(vm, "test -e %s || test -L %s" % (p, p), ok=False)
        assert code != 0, "%s (initramfs) is visible in the guest" % p
    assert gsh(vm, "readlink /proc/1/root").strip() == "/"
    pid1 = mountinfo(gsh(vm, "cat /proc/1/mountinfo"))
    assert mount_at(pid1, "/")["fstype"] == "overlay"
    assert not [m for m in pid1 if m["fstype"] in ("rootfs", "ramfs")], pid1
    meminfo = dict(re.findall(r"^(\w+):\s+(\d+) kB", gsh(vm, "cat /proc/meminfo"), re.M))
    cached_mb = int(meminfo["Cached"]) / 1024
    assert cached_mb < BALLAST_MB / 2, (
        "Cached %.1f MiB (Shmem %s kB): the %d MiB initramfs ballast is still "
        "in memory" % (cached_mb, meminfo.get("Shmem"), BALLAST_MB))


# ---- hostile image -----------------------------------------------------------------------

@pytest.mark.multiarch
def test_hostile_image_stays_inside_its_root(vm_factory, tmp_path, arch):
    """An image with /opt -> "/" and /etc/resolv.conf -> "/init", and a
    config volume path "/data/../../escape": the agent lands inside the
    image (/hypeman/guest-agent, through /opt -> /) and runs; resolv.conf
    is replaced by a regular file (WARN), the image's /init is untouched;
    the ".." volume is refused with an ERROR naming it and its device is
    mounted nowhere; the other volume and the program still work."""
    init_marker = "image /init: must stay as it is\n"
    vol = tmp_path / "vol"
    vol.mkdir()
    vdd = disks.empty_ext4(vol / "vdd.img", 16)
    vde = disks.empty_ext4(vol / "vde.img", 16)
    g = make_guest(tmp_path, dict(NET_CONFIG, cmd=SLEEP, volume_mounts=[
        {"device": "/dev/vdd", "path": "/data/../../escape", "mode": "rw"},
        {"device": "/dev/vde", "path": "/data/ok", "mode": "rw"}]),
        files={"/init": init_marker},
        symlinks={"/opt": "/", "/etc/resolv.conf": "/init"},
        volumes=[vdd, vde], arch=arch)
    vm = boot_for_agent(vm_factory, g, net=True)   # the agent answers

    assert gsh(vm, "readlink /opt").strip() == "/"
    assert gsh(vm, "stat -c '%a %F' /hypeman/guest-agent").strip() == "755 regular file"
    assert gsh(vm, "stat -c %F /etc/resolv.conf").strip() == "regular file"
    assert gsh(vm, "cat /etc/resolv.conf").splitlines() == ["nameserver 10.0.2.3"]
    assert gsh(vm, "cat /init") == init_marker
    mounts = mountinfo(gsh(vm, "cat /proc/self/mountinfo"))
    assert not [m for m in mounts if m["source"] == "/dev/vdd"], "refused volume mounted"
    assert mount_at(mounts, "/data/ok") is not None
    for p in ("/escape", "/data/escape"):
        code, _, _ = gsh(vm, "test -e " + p, ok=False)
        assert code != 0, "%s exists" % p
    assert "HYPEMAN-PROGRAM-START" in vm.console_text
    stop_guest(vm)

    assert any("resolv.conf" in l["msg"] for l in logs(vm, "network", "WARN")), log_summary(vm)
    assert any("/data/../../escape" in l["msg"] for l in logs(vm, "volumes", "ERROR")), \
        log_summary(vm)
    vdb = g.vdb
    st = disks.stat_ext4(vdb, "/upper/hypeman/guest-agent")
    assert st and st["type"] == "regular" and st["mode"] == 0o755, st
    assert disks.stat_ext4(vdb, "/upper/init") is None, "the image's /init was copied up"
    assert read_disk(g.vda, "/init") == init_marker.encode()
    assert read_disk(vdb, "/upper/etc/resolv.conf") == b"nameserver 10.0.2.3\n"
    assert_disk_clean(vdb)


def test_api_mount_points_that_are_symlinks_are_replaced(vm_factory, tmp_path):
    """An image with /run -> / and /proc -> /var: the fresh /run tmpfs and
    /proc still land on real directories at the top of the image (WARN),
    not on top of its root or inside /var, and the disks stay reachable for
    a clean shutdown."""
    g = make_guest(tmp_path, {"cmd": ["/bin/sh", "-c", "cat /proc/self/mountinfo"],
                              "skip_guest_agent": True},
                   symlinks={"/run": "/", "/proc": "/var"})
    vm = vm_factory(disks=g.disks)
    vm.wait_exit(60)
    vm.assert_no_panic()
    assert vm.exit_marker()["code"] == 0
    mounts = mountinfo("\n".join(l for l in vm.console_text.splitlines()
                                  if re.match(r"\d+ \d+ ", l)))
    assert mount_at(mounts, "/")["fstype"] == "overlay"
    assert mount_at(mounts, "/run")["fstype"] == "tmpfs"
    assert mount_at(mounts, "/proc")["fstype"] == "proc"
    assert mount_at(mounts, "/run/hypeman/disks/overlay") is not None
    warns = [l["msg"] for l in logs(vm, "switch", "WARN")]
    assert any("/run" in m for m in warns) and any("/proc" in m for m in warns), warns
    assert not logs(vm, "switch", "ERROR"), log_summary(vm)
    assert_disk_clean(g.vdb)


# ---- config errors ------------------------------------------------------------------------

CONFIG_ERRORS = [
    # id, config.json (None: no file; "NO-DISK": no vdc), words the ERROR names
    ("no-config-disk", "NO-DISK", ["/dev/vdc"]),
    ("no-config-file", None, ["config.json"]),
    ("empty", b"", ["empty"]),
    ("malformed", b'{"cmd": ["/bin/true"', ["config.json", "offset"]),
    ("wrong-type", {"cmd": "notalist"}, ['"cmd"', "expected array"]),
    ("too-large", b'{"cmd": ["/bin/true"], "pad": "' + b"x" * (2 << 20) + b'"}',
     ["config.json", "large"]),
]


@pytest.mark.parametrize("config,words", [c[1:] for c in CONFIG_ERRORS],
                         ids=[c[0] for c in CONFIG_ERRORS])
def test_config_error_is_fatal_and_clean(vm_factory, tmp_path, config, words):
    """A missing or bad config gives an ERROR in phase config naming the
    problem, then (hypeman.rescue=0) an immediate power-off: no program,
    no shell, no kernel panic."""
    g = make_guest(tmp_path, {} if config == "NO-DISK" else config)
    vm = vm_factory(disks=g.disks[:2] if config == "NO-DISK" else g.disks)
    vm.wait_exit(60)
    vm.assert_no_panic()
    errors = [l["msg"] for l in logs(vm, "config", "ERROR")]
    assert any(all(w in m for w in words) for m in errors), \
        "no config ERROR naming %s:\n%s" % (words, log_summary(vm))
    assert "HYPEMAN-PROGRAM-START" not in vm.console_text
    assert "rescue#" not in vm.console_text
