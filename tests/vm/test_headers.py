"""Kernel headers for DKMS (contract: GPU and kernel headers, issue 9 acceptance 3 and 4), from
the test initrd built with --kernel-headers /usr/src/linux-headers-<test
kernel> (Debian's package): installed off the boot path by a worker, ready
once /run/hypeman/headers-ready exists.

- exec mode, a Debian image with gcc and make: a hello-world module builds
  against /lib/modules/$(uname -r)/build, loads, and its printk appears;
  the image's other kernel's /lib/modules and /usr/src directories are gone.
- skip_kernel_headers: no build directory, nothing removed.
- systemd mode: a unit ordered like dkms.service sees the finished headers
  and the GPU nodes (the stand-in bundle, an NVIDIA PCI device), even when
  it starts early and the worker has much to remove; the runtime unit has
  systemd run the stand-in nvidia-persistenced.
"""

import os
import subprocess

import pytest

from lib import agent, disks, gpu
from lib.vm import Disk

OTHER = gpu.OTHER_RELEASE
WAIT_READY = ("i=0; while [ ! -e /run/hypeman/headers-ready ] && [ ! -e /run/hypeman/headers-failed ] "
              "&& [ $i -lt 3000 ]; do sleep 0.1; i=$((i+1)); done; ")
BUILD = ("echo \"=== run: $(ls /run/hypeman | tr '\\n' ' ')\"; "
         "for p in /lib/modules/%s /usr/src/linux-headers-%s; do "
         "  test -e $p && echo \"=== present $p\" || echo \"=== gone $p\"; done; "
         "cd /root/hello && make -C /lib/modules/$(uname -r)/build M=/root/hello modules "
         "&& insmod hello.ko && dmesg | grep 'hello from a module built in a hypeman VM' "
         "&& echo '=== BUILD-OK'" % (OTHER, OTHER))

DKMS_SAW = """#!/bin/sh
# a stand-in for dkms.service: records what it sees when systemd starts it
{
	test -e /run/hypeman/headers-ready && echo ready=yes || echo ready=no
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
    return vm_factory(disks=[Disk(vda, readonly=True), vdb, vdc],
                      initrd=gpu.initrd("initrd-gpu-test"), **kw)


def test_module_builds_against_the_headers(vm_factory, tmp_path, dkms_vda):
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/bin/sh", "-c", WAIT_READY + BUILD], "skip_guest_agent": True})
    v.wait_exit()
    v.assert_no_panic()
    text = v.console_text
    assert "=== BUILD-OK" in text, text[-4000:]
    assert "headers-ready" in text.split("=== run:")[1].split("\n")[0]
    assert "=== gone /lib/modules/%s" % OTHER in text
    assert "=== gone /usr/src/linux-headers-%s" % OTHER in text
    assert v.exit_marker()["code"] == 0
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "headers"]
    assert any(m.startswith("kernel headers of ") and m.endswith(" ready: /lib/modules/%s/build"
               % m.split()[3]) for m in msgs), msgs
    assert not [l for l in v.log_lines() if l["level"] == "ERROR"]


def test_skip_kernel_headers(vm_factory, tmp_path, dkms_vda):
    script = ("test -e /lib/modules/$(uname -r)/build && echo '=== build present' "
              "|| echo '=== build absent'; test -e /lib/modules/%s && echo '=== other present'; "
              "ls /run/hypeman" % OTHER)
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/bin/sh", "-c", script], "skip_guest_agent": True, "skip_kernel_headers": True},
        timeout=180)
    v.wait_exit()
    v.assert_no_panic()
    assert "=== build absent" in v.console_text
    assert "=== other present" in v.console_text
    assert "headers-ready" not in v.console_text
    msgs = [l["msg"] for l in v.log_lines() if l["phase"] == "headers"]
    assert msgs == ["skip_kernel_headers: not installing the kernel headers"], msgs


def test_systemd_unit_sees_headers_and_gpu(vm_factory, tmp_path, dkms_vda):
    v = boot(vm_factory, tmp_path, dkms_vda, {
        "cmd": ["/lib/systemd/systemd"], "has_gpu": True}, extra_args=gpu.PCI_GPU)
    agent.wait_ready(v.agent_socket, 600)

    def sh(cmd):
        code, out, _ = agent.sh(v.agent_socket, cmd, timeout=600)
        return code, out.decode()
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
    code, out = sh("systemctl show -p ActiveState -p Result hypeman-headers.service")
    assert "ActiveState=active" in out and "Result=success" in out, out
    assert sh("test -f /lib/modules/$(uname -r)/build/Makefile")[0] == 0
    try:
        sh("systemctl poweroff")
    except agent.AgentError:
        pass
    v.wait_exit(300)
    v.assert_no_panic()
