"""The machine architectures the tests know, and what differs between them.

Names are the kernel's (uname -m): "x86_64", "aarch64". Debian calls them
amd64 and arm64 (packages, OCI platforms).

  host()          the machine's architecture
  norm(name)      "arm64" -> "aarch64", "amd64" -> "x86_64"; ValueError if unknown
  deb(arch)       Debian's / OCI's name
  ARCHES          all of them, host first
  out_dir(arch)   where build.sh puts that architecture's busybox and
                  initrds: out/ for the host's, out/<arch>/ for another
"""

import os
import platform

_DEB = {"x86_64": "amd64", "aarch64": "arm64"}
_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def norm(name):
    a = _ALIASES.get(name, name)
    if a not in _DEB:
        raise ValueError("unknown architecture %r (x86_64 or aarch64)" % name)
    return a


def host():
    return norm(platform.machine().lower())


def deb(arch):
    return _DEB[norm(arch)]


ARCHES = [host()] + sorted(a for a in _DEB if a != host())


def out_dir(arch):
    out = os.environ.get("HYPEMAN_OUT") or os.path.join(REPO, "out")
    return out if norm(arch) == host() else os.path.join(out, norm(arch))
