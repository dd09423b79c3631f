"""Kernel headers for DKMS (contract: GPU and kernel headers),
from the test initrds built with --kernel-headers: initrd-gpu-test with
/usr/src/linux-headers-<test kernel> (Debian's packages, as installed) and
initrd-headers-tar with a kernel-headers-x86_64.tar.gz shaped like
hypeman's (tests/testdata/headers/make-tarball.sh). Installed off the boot
path by a worker, with today's hypeman protocol: the status file
/run/hypeman/kernel-headers.status (pending, running, ready or failed) and
the HYPEMAN-HEADERS-START, -READY, -FAILED markers.

- exec mode, a Debian image with gcc and make, each initrd: a hello-world
  module builds against /lib/modules/$(uname -r)/build, loads, and its
  printk appears; the image's other kernel's /lib/modules and /usr/src
  directories are gone.
- the markers and status values in order; a failing install (FAILED with
  its error, status failed, the program still runs); the fast path (an
  install the image has is kept).
- skip_kernel_headers: no build directory, nothing removed, no status.
- systemd mode: hypeman-kernel-headers.service, ordered like dkms.service,
  sees the finished headers and the GPU nodes (the stand-in bundle, an
  NVIDIA PCI device), even when it starts early and the worker has much
  to remove; the runtime unit has systemd run the stand-in
  nvidia-persistenced; a failing install fails the unit.
"""

import os
import re
import subprocess

import pytest

from lib import agent, disks, gpu, hostrun, images, kernel
from lib.hostrun import hypeman  # noqa: F401
from lib.vm import Disk

OTHER = gpu.OTHER_RELEASE
STATUS = "/run/hypeman/kernel-headers.status"
WAIT_READY = ("i=0; until grep -qx -e ready -e failed %s 2>/dev/null || [ $i -ge 3000 ]; "
              "do sleep 0.1; i=$((i+1)); done; " % STATUS)
MARKER_RX = re.compile(r"^HYPEMAN-HEADERS-(START|READY|FAILED) ts=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z"
                       r'(?: error="((?:[^"\\]|\\.)*)")?$')
BUILD = ("echo \"=== run: $(ls /run/hypeman | tr '\\n' ' ')\"; "
         "for p in /lib/modules/%s /usr/src/linux-headers-%s; do "
         "  test -e $p && echo \"=== present $p\" || echo \"=== gone $p\"; done; "
         "cd /root/hello && make -C /lib/modules/$(uname -r)/build M=/root/hello modules "
         "&& insmod hello.ko && dmesg | grep 'hello from a module built in a hypeman VM' "
         "&& echo '=== BUILD-OK'" % (OTHER, OTHER))

DKMS_SAW = """#!/bin/sh
# a stand-in for dkms.service: records what it sees when systemd starts it
{
	grep -qx ready /run/hypeman/kernel-headers.status && echo ready=yes || echo ready=no
	test -f /lib/modules/$(uname -r)/build/Makefile && echo build=yes || echo build=no
	test -e /lib/modules/%s && echo other=present || echo other=gone
	/usr/local/bin/gpu-check
} > /run/dkms-saw.txt 2>&1
""" % OTHER

DKMS_UNIT = """[Unit]
Description=stand-in for dkms.service
DefaultDependencies=no

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/bin/dkms-saw

[Install]
WantedBy=sysinit.target
"""


@pytest.fixture(scope="module")
def dkms_vda(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dkms")
    # a big other kernel tree keeps the worker busy for seconds: a unit
    # that started before it finished would see it
    root = gpu.dkms_root(str(tmp / "root"), other_module_files=3000)
    with open(os.path.join(root, "usr/local/bin/dkms-saw"), "w") as f:
        f.write(DKMS_SAW)
    os.chmod(os.path.join(root, "usr/local/bin/dkms-saw"), 0o755)
    with open(os.path.join(root, "etc/systemd/system/dkms.service"), "w") as f:
        f.write(DKMS_UNIT)
    wants = os.path.join(root, "etc/systemd/system/sysinit.target.wants")
    os.makedirs(wants, exist_ok=True)
    os.symlink("../dkms.service", os.path.join(wants, "dkms.service"))
    size = int(subprocess.run(["du", "-sm", root], check=True, capture_output=True,
                              text=True).stdout.split()[0])
    return disks.ext4_from_dir(str(tmp / "vda.img"), root, size * 3 // 2 + 256)


def boot(vm_factory, tmp_path, vda, config, **kw):
    vdb, vdc = str(tmp_path / "vdb.img"), str(tmp_path / "vdc.img")
    disks.empty_ext4(vdb, 512)
    disks.config_disk(vdc, config)
    kw.setdefault("mem_mb", 1024)
    kw.setdefault("timeout", 600)
    kw.setdefault("initrd", gpu.initrd("initrd-gpu-test"))
    return vm_factory(disks=[Disk(vda, readonly=True), vdb, vdc], **kw)


def markers(v):
    """[(state, error)] of the headers markers, in console order; each
    line exactly as the host parses it."""
    out = []
    for line in v.lines():
        if "HYPEMAN-HEADERS-" in line:
            m = MARKER_RX.match(line.rstrip("\r"))
            assert m, "malformed marker line %r" % line
            out.append((m.group(1), m.group(2)))
    return out


def statuses(v):
    """The values the status file took, in order (hypeman.debug=1 logs
    each write)."""
    return [l["msg"].split(": ", 1)[1] for l in v.log_lines()
            if l["phase"] == "headers" and l["msg"].startswith(STATUS + ": ")]


@pytest.mark.parametrize("name", ["initrd-gpu-test", "initrd-headers-tar"])
def test_module_builds_against_the_headers(vm_factory, tmp_path, dkms_vda, name):
    """The installed tree builds a module, whether build.sh got Debian's
    installed tree or hypeman's tarball shape."""
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/bin/sh", "-c", WAIT_READY + BUILD], "skip_guest_agent": True},
        initrd=gpu.initrd(name), append_extra="hypeman.debug=1")
    v.wait_exit()
    v.assert_no_panic()
    text = v.console_text
    assert "=== BUILD-OK" in text, text[-4000:]
    assert "kernel-headers.status" in text.split("=== run:")[1].split("\n")[0]
    assert "=== gone /lib/modules/%s" % OTHER in text
    assert "=== gone /usr/src/linux-headers-%s" % OTHER in text
    assert v.exit_marker()["code"] == 0
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "headers"]
    assert any(m.startswith("kernel headers of ") and m.endswith(" ready: /lib/modules/%s/build"
               % m.split()[3]) for m in msgs), msgs
    assert not [l for l in v.log_lines() if l["level"] == "ERROR"]
    assert markers(v) == [("START", None), ("READY", None)]
    assert statuses(v) == ["pending", "running", "ready"]


def guest_sh(v, cmd):
    """(code, stdout) of CMD in the guest, through the agent."""
    code, out, _ = agent.sh(v.agent_socket, cmd, timeout=600)
    return code, out.decode()


def systemd_poweroff(v):
    """systemctl poweroff (the agent may die before it answers); the VM
    ends without a panic."""
    try:
        guest_sh(v, "systemctl poweroff")
    except agent.AgentError:
        pass
    v.wait_exit(300)
    v.assert_no_panic()


def busybox_vda(tmp, files=None, symlinks=None):
    root = images.rootfs(tmp / "root", files=files, symlinks=symlinks)
    return disks.ext4_from_dir(str(tmp / "vda.img"), root, 64)


SHOW = (WAIT_READY + "echo \"=== status $(cat %s)\"; grep -q ' /run/hypeman/headers ' /proc/mounts "
        "&& echo '=== mounted' || echo '=== not mounted'; ls -l /lib/modules/*/build /usr/src; "
        "test -f /lib/modules/$(uname -r)/build/Makefile && echo '=== build has a Makefile'" % STATUS)


def test_markers_and_status_in_order(vm_factory, tmp_path):
    """Exec mode, a small image: START then READY on the console, the
    status pending (before the switch), running, ready, the tree linked."""
    v = boot(vm_factory, tmp_path, busybox_vda(tmp_path), {
        "cmd": ["/bin/sh", "-c", SHOW], "skip_guest_agent": True},
        initrd=gpu.initrd("initrd-gpu-test"), append_extra="hypeman.debug=1", timeout=180)
    v.wait_exit()
    v.assert_no_panic()
    text = v.console_text
    assert "=== status ready" in text and "=== mounted" in text and "=== build has a Makefile" in text, text
    assert markers(v) == [("START", None), ("READY", None)]
    assert statuses(v) == ["pending", "running", "ready"]
    # pending was staged before the switch, running by the worker after it
    lines = v.log_lines()
    switch = [i for i, l in enumerate(lines) if l["phase"] == "switch"][0]
    pending = [i for i, l in enumerate(lines) if l["msg"] == STATUS + ": pending"][0]
    assert pending < switch
    assert v.exit_marker()["code"] == 0


def test_failing_install(vm_factory, tmp_path):
    """An image where the tree cannot be linked (/usr/src is a file): the
    FAILED marker says why (Go-quoted), the status goes failed, no READY,
    and the program runs all the same."""
    v = boot(vm_factory, tmp_path, busybox_vda(tmp_path, files={"/usr/src": "not a directory\n"}), {
        "cmd": ["/bin/sh", "-c", WAIT_READY + "echo \"=== status $(cat %s)\"" % STATUS],
        "skip_guest_agent": True},
        initrd=gpu.initrd("initrd-gpu-test"), append_extra="hypeman.debug=1", timeout=180)
    v.wait_exit()
    v.assert_no_panic()
    assert "=== status failed" in v.console_text
    m = markers(v)
    assert [s for s, _ in m] == ["START", "FAILED"], m
    assert re.fullmatch(r"cannot make the directory of /usr/src/linux-headers-\S+ in the image: "
                        r"Not a directory", m[1][1]), m
    assert statuses(v) == ["pending", "running", "failed"]
    errors = [l for l in v.log_lines() if l["level"] == "ERROR"]
    assert errors and all(l["phase"] == "headers" for l in errors), errors
    assert v.exit_marker()["code"] == 0


def test_fast_path_keeps_the_images_install(vm_factory, tmp_path):
    """An image that has this release's headers installed (its own
    /usr/src/linux-headers-<release> with /lib/modules/<release>/build
    leading there) keeps them: nothing mounted, linked or removed, READY."""
    rel = kernel.kernel_tree()[2]
    tree = "/usr/src/linux-headers-%s" % rel
    vda = busybox_vda(tmp_path, files={tree + "/Makefile": "# the image's own\n",
                                       "/lib/modules/%s/kernel/.keep" % OTHER: ""},
                      symlinks={"/lib/modules/%s/build" % rel: tree})
    v = boot(vm_factory, tmp_path, vda, {
        "cmd": ["/bin/sh", "-c", SHOW + "; cat /lib/modules/$(uname -r)/build/Makefile; "
                "test -d /lib/modules/%s && echo '=== other kept'" % OTHER],
        "skip_guest_agent": True},
        initrd=gpu.initrd("initrd-gpu-test"), append_extra="hypeman.debug=1", timeout=180)
    v.wait_exit()
    v.assert_no_panic()
    text = v.console_text
    assert "=== status ready" in text and "=== not mounted" in text and "# the image's own" in text, text
    assert "=== other kept" in text
    assert markers(v) == [("START", None), ("READY", None)]
    assert statuses(v) == ["pending", "running", "ready"]
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "headers"]
    assert "the image has the kernel headers of %s already: kept" % rel in msgs, msgs


def test_skip_kernel_headers(vm_factory, tmp_path, dkms_vda):
    script = ("test -e /lib/modules/$(uname -r)/build && echo '=== build present' "
              "|| echo '=== build absent'; test -e /lib/modules/%s && echo '=== other present'; "
              "ls /run/hypeman; echo '=== end'" % OTHER)
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/bin/sh", "-c", script], "skip_guest_agent": True, "skip_kernel_headers": True},
        timeout=180)
    v.wait_exit()
    v.assert_no_panic()
    assert "=== build absent" in v.console_text
    assert "=== other present" in v.console_text
    assert "kernel-headers.status" not in v.console_text.split("=== other present")[1]
    assert markers(v) == []
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "headers"]
    assert msgs == ["skip_kernel_headers: not installing the kernel headers"], msgs


def test_systemd_unit_sees_headers_and_gpu(vm_factory, tmp_path, dkms_vda):
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/lib/systemd/systemd"], "has_gpu": True}, extra_args=gpu.PCI_GPU,
        append_extra="hypeman.debug=1")
    agent.wait_ready(v.agent_socket, 600)

    def sh(cmd):
        return guest_sh(v, cmd)
    # joins the boot's start job: returns once the stand-in has run
    assert sh("systemctl start dkms.service")[0] == 0
    saw = sh("cat /run/dkms-saw.txt")[1]
    # the stand-in dkms.service started early, but after the headers
    assert "ready=yes" in saw and "build=yes" in saw and "other=gone" in saw, saw
    c = gpu.check_lines(saw)
    assert c["node"]["/dev/nvidia0"] == ["195", "0", "0666", "0:0"], saw
    assert c["node"]["/dev/nvidiactl"] == ["195", "255", "0666", "0:0"], saw
    assert c["node"]["/dev/nvidia-uvm"][1:] == ["0", "0666", "0:0"], saw
    assert c["dlopen"]["libhypeman-gpu-test.so.1"][0] == gpu.STANDIN_VERSION, saw
    # systemd runs nvidia-persistenced through the runtime unit
    code, out = sh("systemctl show -p ActiveState -p MainPID hypeman-nvidia-persistenced.service; "
                   "cat /run/nvidia-persistenced/nvidia-persistenced.pid")
    state = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    assert state.get("ActiveState") == "active", out
    assert out.splitlines()[-1].strip() == state.get("MainPID"), out
    code, out = sh("systemctl show -p ActiveState -p Result hypeman-kernel-headers.service")
    assert "ActiveState=active" in out and "Result=success" in out, out
    assert sh("test -f /lib/modules/$(uname -r)/build/Makefile")[0] == 0
    assert sh("cat " + STATUS)[1] == "ready\n"
    # the worker, adopted by systemd, wrote its markers on the console
    assert markers(v) == [("START", None), ("READY", None)]
    assert statuses(v) == ["pending", "running", "ready"]
    systemd_poweroff(v)


def test_systemd_failing_install_fails_the_unit(vm_factory, tmp_path, hypeman):
    """systemd mode (the systemd test image, /usr/src a file in it): the
    worker's FAILED marker on the console, status failed, and
    hypeman-kernel-headers.service failed, so dkms.service would not run
    on a half-made tree."""
    layout = os.path.join(gpu.CACHE, "images", "systemd-oci")
    if not os.path.exists(os.path.join(layout, "index.json")):
        subprocess.run([os.path.join(gpu.REPO, "tests/testdata/systemd/make-image.sh")], check=True)
    root, _ = hostrun.unpack(hypeman, layout, tmp_path / "work")
    os.rmdir(os.path.join(root, "usr/src"))
    with open(os.path.join(root, "usr/src"), "w") as f:
        f.write("not a directory\n")
    vda = disks.ext4_from_dir(str(tmp_path / "vda.img"), root, 600)
    v = boot(vm_factory, tmp_path, vda, {"cmd": ["/lib/systemd/systemd"]}, append_extra="hypeman.debug=1")
    agent.wait_ready(v.agent_socket, 600)

    def sh(cmd):
        return guest_sh(v, cmd)
    assert sh("systemctl is-system-running --wait")[1].strip() in ("running", "degraded")
    code, out = sh("systemctl show -p ActiveState -p Result hypeman-kernel-headers.service")
    assert "ActiveState=failed" in out and "Result=exit-code" in out, out
    assert sh("cat " + STATUS)[1] == "failed\n"
    m = markers(v)
    assert [s for s, _ in m] == ["START", "FAILED"], m
    assert "Not a directory" in m[1][1], m
    assert statuses(v) == ["pending", "running", "failed"]
    systemd_poweroff(v)
