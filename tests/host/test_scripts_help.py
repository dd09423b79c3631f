"""Every script of the repo answers --help on stdout with status 0 (and
nothing on stderr); the list of scripts below is the repo's whole list: a
new executable script, or a Python file run as a command, fails
test_the_list_is_complete until it is added here (or to NOT_CHECKED with
its reason). Boots nothing; no root needed for --help."""

import os
import re
import subprocess

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAIN = re.compile(r"""^if __name__ == ["']__main__["']:""", re.M)

# Run as commands: the executable files, and the Python files with a
# __main__ block (run as python3 FILE).
SCRIPTS = [
    "build.sh",
    "demo.sh",
    "foreign-apt.sh",
    "kernel/build.sh",
    "tests/agent/build.sh",
    "tests/bench.py",
    "tests/bench_host.py",
    "tests/check-paths.py",
    "tests/fuzz/run.sh",
    "tests/gpu/device-check.sh",
    "tests/gpu/make-bundle.sh",
    "tests/gpu/make-standin-bundle.sh",
    "tests/lib/agent.py",
    "tests/lib/kernel.py",
    "tests/testdata/apps/make-image.sh",
    "tests/testdata/dkms/make-image.sh",
    "tests/testdata/headers/make-tarball.sh",
    "tests/testdata/systemd/make-image.sh",
    "tests/testdata/systemd/second-stage.py",
    "tests/unit/run.sh",
]

# Executable, but not asked here, and why.
NOT_CHECKED = {
    # No --help yet: either would start the whole test run. The runner's
    # files in this wave (issue 24 points 1-3): move them to SCRIPTS once
    # they answer --help.
    "tests/run": "the test command (its --help: the runner's)",
    ".ci/run": "CI's entry point, runs tests/run",
    # Programs of the real-software image, run in the guest as its entrypoints:
    # their arguments are the server's.
    "tests/testdata/apps/pg-entrypoint.sh": "the image's PostgreSQL entrypoint",
    "tests/testdata/apps/redis-entrypoint.sh": "the image's redis entrypoint",
}


def _tracked():
    """Every file git tracks in the repo (as the work tree has it)."""
    out = subprocess.run(["git", "-C", REPO, "ls-files", "-z"], check=True,
                         capture_output=True).stdout.decode()
    for path in filter(None, out.split("\0")):
        full = os.path.join(REPO, path)
        if os.path.isfile(full) and not os.path.islink(full):
            yield path, full


def _commands():
    found = set()
    for path, full in _tracked():
        if os.stat(full).st_mode & 0o111:
            found.add(path)
        elif path.endswith(".py"):
            with open(full, encoding="utf-8", errors="replace") as f:
                if MAIN.search(f.read()):
                    found.add(path)
    return found


def test_the_list_is_complete():
    found = _commands()
    listed = set(SCRIPTS) | set(NOT_CHECKED)
    assert not found - listed, "scripts without a --help check here: %s" % sorted(found - listed)
    assert not listed - found, "listed but not in the repo (or not a command): %s" % sorted(listed - found)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_on_stdout_status_0(script):
    path = os.path.join(REPO, script)
    argv = ["/usr/bin/python3", path] if script.endswith(".py") else [path]
    p = subprocess.run(argv + ["--help"], cwd=REPO, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, errors="replace", timeout=60)
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    assert p.stderr == "", p.stderr[-2000:]
    assert p.stdout.strip(), "nothing on stdout"
    # the text says how to call it: a usage line or the script's own name
    assert "usage" in p.stdout.lower() or os.path.basename(script) in p.stdout, p.stdout[:500]


# Wrong usage is still an error on stderr.
@pytest.mark.parametrize("script,argv", [
    ("build.sh", ["--no-such-option"]),
    ("kernel/build.sh", []),
    ("foreign-apt.sh", []),
    ("tests/check-paths.py", ["--no-such-option"]),
    ("tests/lib/agent.py", []),
    ("tests/testdata/systemd/make-image.sh", ["--no-such-option"]),
])
def test_wrong_usage_on_stderr(script, argv):
    path = os.path.join(REPO, script)
    cmd = (["/usr/bin/python3", path] if script.endswith(".py") else [path]) + argv
    p = subprocess.run(cmd, cwd=REPO, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=60)
    assert p.returncode != 0, p.stdout[-2000:]
    assert p.stderr.strip(), "no message on stderr"
    assert p.stdout == "", p.stdout[-2000:]
