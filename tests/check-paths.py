#!/usr/bin/python3
"""No link or path in the repo points outside it (part of tests/run).

Over the repo's files (git's tracked and not ignored ones), it checks:
  1. markdown links and images: a target that is not a URL exists in the
     repo (its #anchor, when the target is a markdown file of the repo, is
     one of that file's headings);
  2. markdown text and the comments of code (C, shell, Python): a path
     starting with ../ resolves, from the file's directory, to something
     that exists in the repo (quoted ones in comments are example data);
  3. every file: no names of places a clone does not have (the folder the
     project was developed beside, the development machine's work tree,
     the old contract file: see OUTSIDE);
  4. every reference "contract:" + a name is to a section of
     docs/guest-contract.md.
Prints one line per finding (file:line: what) and ends with
"paths: N passed, N failed" (one case per check above).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
CONTRACT = "docs/guest-contract.md"
# written split, so that this file does not match itself
OUTSIDE = [re.compile(p) for p in (r"\.\./" + "shared", "/" + "work/", r"\b" + "SPEC" + r"\b")]
CODE = (".c", ".h", ".sh", ".py")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
UP = re.compile(r"(?<![\w.$/)}\"'])((?:\.\./)+[A-Za-z_][\w.-]*(?:/[\w.-]+)*)")
REF = re.compile(r"\bcontract: ([A-Za-z][\w.]*(?: [A-Za-z][\w.]*)*)")


def repo_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], capture_output=True, check=True).stdout
    for name in sorted(set(out.decode().split("\0")) - {""}):
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data:
            continue
        yield name, data.decode("utf-8", "replace")


def slug(heading):
    """GitHub's anchor of a markdown heading."""
    s = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return s.replace(" ", "-")


def headings(text):
    return [m.group(1) for m in re.finditer(r"^#+\s+(.*?)\s*$", text, re.M)]


def inside(path):
    real = os.path.realpath(path)
    return real == ROOT or real.startswith(ROOT + os.sep)


def comments(name, text):
    """(line number, text) of each comment of a code file."""
    if name.endswith((".c", ".h")):
        for m in re.finditer(r"/\*.*?\*/|//[^\n]*", text, re.S):
            yield text.count("\n", 0, m.start()) + 1, m.group(0)
        return
    for i, line in enumerate(text.split("\n"), 1):
        m = re.search(r"(?:^|\s)#(.*)$", line)
        if m:
            yield i, m.group(1)
    if name.endswith(".py"):
        for m in re.finditer(r'"""(.*?)"""', text, re.S):
            yield text.count("\n", 0, m.start()) + 1, m.group(1)


def check_links(name, text, texts):
    bad = []
    base = os.path.dirname(os.path.join(ROOT, name))
    for m in LINK.finditer(text):
        target = m.group(1)
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue
        line = text.count("\n", 0, m.start()) + 1
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(base, path)) if path else os.path.join(ROOT, name)
        if not inside(full) or not os.path.exists(full):
            bad.append(f"{name}:{line}: link {target}: not a file of the repo")
            continue
        rel = os.path.relpath(full, ROOT)
        if anchor and rel.endswith(".md") and rel in texts:
            if anchor not in {slug(h) for h in headings(texts[rel])}:
                bad.append(f"{name}:{line}: link {target}: no heading #{anchor} in {rel}")
    return bad


def check_up_paths(name, places):
    bad = []
    base = os.path.dirname(os.path.join(ROOT, name))
    for line, text in places:
        for m in UP.finditer(text):
            full = os.path.normpath(os.path.join(base, m.group(1)))
            if not inside(full) or not os.path.exists(full):
                bad.append(f"{name}:{line + text.count(chr(10), 0, m.start())}: "
                           f"path {m.group(1)}: not in the repo")
    return bad


def main():
    texts = dict(repo_files())
    me = os.path.relpath(os.path.abspath(__file__), ROOT)
    sections = headings(texts.get(CONTRACT, ""))
    found = {"links": [], "paths": [], "outside": [], "contract": []}
    if not sections:
        found["contract"].append(f"{CONTRACT}: missing or without sections")
    for name, text in texts.items():
        if name.endswith(".md"):
            found["links"] += check_links(name, text, texts)
            found["paths"] += check_up_paths(
                name, [(1, LINK.sub(lambda m: "\n" * m.group(0).count("\n"), text))])
        elif name.endswith(CODE) or name == "tests/run":
            found["paths"] += check_up_paths(name, list(comments(name, text)))
        if name != me:
            for i, line in enumerate(text.split("\n"), 1):
                for pat in OUTSIDE:
                    if pat.search(line):
                        found["outside"].append(f"{name}:{i}: names a place outside the repo "
                                                f"({pat.pattern}): {line.strip()[:80]}")
        for m in REF.finditer(text):
            ref = m.group(1)
            if not any(ref == s or ref.startswith(s + " ") or ref.startswith(s + ".")
                       for s in sections):
                line = text.count("\n", 0, m.start()) + 1
                found["contract"].append(f"{name}:{line}: contract: {ref}: no such section "
                                         f"in {CONTRACT}")
    failed = 0
    for what, lines in found.items():
        for l in lines:
            print(l)
        if lines:
            print(f"paths: {what}: {len(lines)} finding(s)")
            failed += 1
    print(f"paths: {len(found) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] in (["-h"], ["--help"]):
        print("usage: tests/check-paths.py\n\n" + __doc__.strip())
        sys.exit(0)
    if sys.argv[1:]:
        sys.stderr.write("usage: tests/check-paths.py   (no arguments; --help)\n")
        sys.exit(2)
    sys.exit(main())
