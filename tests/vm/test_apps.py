"""Real software from Debian's packages, not written here, in exec mode:
the image of tests/testdata/apps/make-image.sh (lib/apps.py).

- nginx laid out as the official nginx image (access and error logs are
  symlinks to /dev/stdout and /dev/stderr, `daemon off;`): its page served
  through a QEMU restrict=on network with a host forward on 127.0.0.1, its
  access log line on the console, Ctrl-Alt-Del stops it cleanly.
- PostgreSQL from an entrypoint script that runs initdb and postgres as
  the postgres user: a row written in one boot is read in the next, the
  disks clean after each.
- redis with its append-only file (appendfsync always) across a power
  cut: every write acknowledged before QEMU was killed is there after the
  next boot.
"""

import os
import socket
import time
import urllib.error
import urllib.request

import pytest

from lib import agent, apps, disks
from lib.vm import Disk

# one worker boots every test of the image (tests/run: --dist loadgroup):
# its erofs disk is made once per worker, in a minute
pytestmark = [pytest.mark.vm, pytest.mark.needs("apps"), pytest.mark.xdist_group("apps")]

NET = {"network_enabled": True, "guest_ip": "10.0.2.15", "guest_cidr": 24,
       "guest_gw": "10.0.2.2", "guest_dns": "10.0.2.3"}
TIMEOUT = 300


@pytest.fixture(scope="module")
def vda(tmp_path_factory):
    return apps.image_disk(tmp_path_factory)


def boot(vm_factory, tmp_path, vda, vdb, config, name="vdc", **kw):
    """A VM of the image with overlay disk VDB (kept across boots)."""
    vdc = str(tmp_path / (name + ".img"))
    disks.config_disk(vdc, config)
    kw.setdefault("mem_mb", 1024)
    kw.setdefault("timeout", TIMEOUT)
    return vm_factory(disks=[Disk(vda, readonly=True), vdb, vdc], **kw)


def sh(v, cmd, timeout=120):
    code, out, err = agent.sh(v.agent_socket, cmd, timeout=timeout)
    assert code == 0, "%s: %d %r %r" % (cmd, code, out, err)
    return out.decode()


def assert_stopped_cleanly(v, vdb, code=0):
    """Powered off by itself, the program's exit code CODE, the shutdown
    without a WARN, the overlay disk clean."""
    assert v.wait_exit() == 0
    v.assert_no_panic()
    assert v.exit_marker()["code"] == code, v.exit_marker()
    shut = [o for o in v.log_lines() if o["phase"] == "shutdown"]
    assert shut and "dur_ms" in shut[-1] and all(o["level"] == "INFO" for o in shut), shut
    ok, report = disks.e2fsck_clean(vdb)
    assert ok, report


def owners(v, comm):
    """The users of the processes named COMM in the guest (no ps in the image)."""
    return sorted(set(sh(v, "for p in /proc/[0-9]*; do [ \"$(cat $p/comm 2>/dev/null)\" = %s ] "
                         "&& stat -c %%U $p; done; true" % comm).split()))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http_get(url, deadline):
    """The body of URL once the guest answers (bounded by DEADLINE)."""
    last = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return r.status, r.read().decode()
        except (urllib.error.URLError, ConnectionError, OSError) as e:
            last = e
            time.sleep(0.5)
    raise AssertionError("no answer from %s: %r" % (url, last))


def test_nginx_as_its_official_image(vm_factory, tmp_path, tmp_path_factory, vda):
    cfg = apps.config(tmp_path_factory)
    assert cfg["cmd"] == ["nginx", "-g", "daemon off;"]
    port = free_port()
    vdb = disks.empty_ext4(str(tmp_path / "vdb.img"), 256)
    v = boot(vm_factory, tmp_path, vda, vdb, dict(NET, cmd=cfg["cmd"], env=cfg["env"], skip_guest_agent=True),
             net=True, hostfwd=["tcp:127.0.0.1:%d-:80" % port])
    v.wait_for("HYPEMAN-PROGRAM-START")
    status, body = http_get("http://127.0.0.1:%d/?from=hypeman-test" % port,
                            time.monotonic() + TIMEOUT)
    assert status == 200 and "Welcome to nginx!" in body, body[:500]
    # the access log, through /var/log/nginx/access.log -> /dev/stdout
    v.wait_for('"GET /?from=hypeman-test HTTP/1.1" 200', timeout=60)
    v.ctrl_alt_del()
    assert_stopped_cleanly(v, vdb)
    assert not [o for o in v.log_lines() if o["level"] != "INFO"]


PG_READY = "database system is ready to accept connections"
PSQL = "psql -h /run/postgresql -U postgres -Atc "


def test_postgres_row_survives_reboot(vm_factory, tmp_path, vda):
    vdb = disks.empty_ext4(str(tmp_path / "vdb.img"), 512)
    config = {"cmd": ["/usr/local/bin/pg-entrypoint.sh"]}
    v = boot(vm_factory, tmp_path, vda, vdb, config, name="vdc1")
    v.wait_for(PG_READY)
    assert "pg-entrypoint: no cluster in /var/lib/postgresql/data: initdb" in v.console_text
    agent.wait_ready(v.agent_socket, 60)
    assert sh(v, "stat -c %U /var/lib/postgresql/data/PG_VERSION").strip() == "postgres"
    assert owners(v, "postgres") == ["postgres"]
    sh(v, PSQL + "\"CREATE TABLE t (v text); INSERT INTO t VALUES ('written in boot 1')\"")
    v.ctrl_alt_del()
    assert_stopped_cleanly(v, vdb)

    v = boot(vm_factory, tmp_path, vda, vdb, config, name="vdc2")
    v.wait_for(PG_READY)
    assert "initdb" not in v.console_text
    agent.wait_ready(v.agent_socket, 60)
    assert sh(v, PSQL + "'SELECT v FROM t'") == "written in boot 1\n"
    v.ctrl_alt_del()
    assert_stopped_cleanly(v, vdb)


REDIS_READY = "Ready to accept connections"
N_KEYS = 300


def test_redis_aof_survives_power_cut(vm_factory, tmp_path, vda):
    vdb = disks.empty_ext4(str(tmp_path / "vdb.img"), 256)
    config = {"cmd": ["/usr/local/bin/redis-entrypoint.sh", "--appendonly", "yes",
                      "--appendfsync", "always"]}
    v = boot(vm_factory, tmp_path, vda, vdb, config, name="vdc1")
    v.wait_for(REDIS_READY)
    agent.wait_ready(v.agent_socket, 60)
    assert owners(v, "redis-server") == ["redis"]
    # each OK is an fsynced append (appendfsync always)
    # one client, one command per line: redis answers each after its fsync
    out = sh(v, "seq 1 %d | sed 's/.*/SET key& value&/' | redis-cli" % N_KEYS, timeout=600)
    assert out.split() == ["OK"] * N_KEYS
    v.kill()    # the power cut: QEMU killed, nothing flushed or unmounted

    v = boot(vm_factory, tmp_path, vda, vdb, config, name="vdc2")
    v.wait_for(REDIS_READY)
    agent.wait_ready(v.agent_socket, 60)
    assert sh(v, "redis-cli DBSIZE").strip() == str(N_KEYS)
    assert sh(v, "redis-cli GET key%d" % N_KEYS).strip() == "value%d" % N_KEYS
    v.ctrl_alt_del()
    assert_stopped_cleanly(v, vdb)
