"""`hypeman run --help` and the documents that repeat it, without booting.

The synopsis README.md shows is the one `--help` prints, line for line;
every option `--help` lists is one the parser knows (host/main.c's
longopts), is in the synopsis and has its row in host/README.md's table,
and the table has no other. So none of them can drift from the tool.

    /usr/bin/python3 -m pytest tests/host/test_run_help.py
"""

import os
import re
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from lib import hostrun  # noqa: E402
from lib.hostrun import hypeman  # noqa: E402,F401

REPO = hostrun.REPO


@pytest.fixture(scope="session")
def help_text(hypeman):
    p = subprocess.run([hypeman, "run", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr)
    return p.stdout


def synopsis(text):
    """The lines before the first empty one."""
    return text[:text.index("\n\n") + 1]


def listed(text):
    """The options of the list, each as (short or None, long)."""
    return re.findall(r"^  (?:(-\w), )?(--[\w-]+)", text, re.M)


def test_help_on_stdout_with_status_0(hypeman, help_text):
    assert help_text.startswith("usage: hypeman run ")
    for argv in (["run", "-h"], ["--help"], ["-h"], ["run", "-q", "--help"]):
        p = subprocess.run([hypeman] + argv, capture_output=True, text=True)
        assert (p.returncode, p.stderr, p.stdout) == (0, "", help_text), argv
    # A usage error is another matter: stderr, status 2.
    p = subprocess.run([hypeman, "run"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == "", p
    assert "no IMAGE given\n(see hypeman run --help)" in p.stderr, p.stderr


def test_readme_synopsis_is_the_help(help_text):
    block = "".join("    " + l + "\n" for l in synopsis(help_text).splitlines())
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    assert block in readme, "README.md's synopsis differs from hypeman run --help:\n" + block


def test_help_lists_every_option_of_the_parser(help_text):
    with open(os.path.join(REPO, "host", "main.c")) as f:
        src = f.read()
    parsed = set(re.findall(r'\{ "([\w-]+)", (?:no|required)_argument', src))
    assert parsed and {l[2:] for _, l in listed(help_text)} == parsed


def test_every_option_in_the_synopsis_and_the_table(help_text):
    syn = synopsis(help_text)
    with open(os.path.join(REPO, "host", "README.md")) as f:
        table = [l for l in f if l.startswith("| `-")]
    in_table = set()
    for row in table:
        first = row.split(" | ")[0]
        in_table |= set(re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", first))
    for short, long in listed(help_text):
        names = [n for n in (short, long) if n]
        assert any(re.search(r"[\[ ]%s(?![\w-])" % re.escape(n), syn) for n in names), \
            "%s is not in the synopsis" % long
        assert long in in_table, "%s has no row in host/README.md's table" % long
    everything = {n for pair in listed(help_text) for n in pair if n}
    assert in_table <= everything, "host/README.md's table has %s" % (in_table - everything)
