"""Named progress for pytest (tests/run turns it on: HYPEMAN_PROGRESS=1).

One line per test when it ends, in place of pytest's dots:

  [12/380] PASSED  tests/vm/test_exec.py::test_x[x86_64]  14.2 s  (~9 min left)

the time left estimated from what each test took the last time it passed
($HYPEMAN_CACHE/test-durations.json, written at the end of each run; a
test not in it counts what this run's finished tests took on average):
the tests not started yet and the rest of those running, shared by the
workers (with xdist, the controller sees every worker's reports). While
tests run and none ended for 10 s, a line (every 10 s) names what is
running and for how long, so that a long test (a systemd boot, a wait for
the arm64 image built in the background) never looks like a hang.
"""

import json
import os
import threading
import time

import pytest

IDLE_S = 10
HISTORY_MAX_BYTES = 4 << 20


def history_path():
    return os.path.join(os.environ.get("HYPEMAN_CACHE", "/var/cache/hypeman-init"),
                        "test-durations.json")


def history_key(nodeid):
    """The test, without the "@group" xdist's loadgroup adds."""
    return nodeid.split("@", 1)[0]


def load_history(path):
    """{test: seconds} of earlier runs; {} when there is none or it is not
    such a file."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read(HISTORY_MAX_BYTES + 1) or b"{}")
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items()
            if isinstance(k, str) and isinstance(v, (int, float)) and v >= 0}


def save_history(path, durations):
    """Merges {test: seconds} into PATH (written whole, then renamed)."""
    merged = load_history(path)
    merged.update(durations)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(tmp, "w") as f:
            json.dump(merged, f, sort_keys=True, indent=0)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def estimate_left(pending, running, history, workers, now, mean):
    """Seconds left: each test not started at its duration in an earlier
    run, each running one at what is left of it, shared by WORKERS; a test
    with no history counts MEAN (what this run's finished tests took on
    average)."""
    def expected(n):
        return history.get(history_key(n), mean)
    work = sum(expected(n) for n in pending)
    work += sum(max(expected(n) - (now - t), 0.0) for n, t in running.items())
    return work / max(workers, 1)


class Progress:
    def __init__(self, config):
        self.config = config
        self.total = None
        self.done = 0
        self.t0 = None
        self.outcome = {}      # nodeid -> worst outcome so far
        self.secs = {}         # nodeid -> seconds (setup + call + teardown)
        self.running = {}      # nodeid -> monotonic start
        self.last_line = time.monotonic()
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = None
        self.pending = set()   # collected, not started
        self.nodes = set()     # xdist workers (each reports its collection)
        self.passed = {}       # test -> seconds, for the history
        self.finished_secs = 0.0
        self.history = load_history(history_path())

    def write(self, text):
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        with self.lock:
            self.last_line = time.monotonic()
            if tr is not None:
                tr.ensure_newline()
                tr.write_line(text)
            else:
                print(text, flush=True)

    # how many: the controller's own collection, or xdist's first worker's
    def pytest_collection_finish(self, session):
        if not hasattr(self.config, "workerinput"):
            if self.total is None and session.items:
                self.total = len(session.items)
                self.pending = {i.nodeid for i in session.items}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        self.nodes.add(node.gateway.id)
        if self.total is None:
            self.total = len(ids)
            self.pending = set(ids)

    def pytest_runtest_logstart(self, nodeid, location):
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
            self.thread = threading.Thread(target=self.heartbeat, daemon=True)
            self.thread.start()
        self.pending.discard(nodeid)
        self.running[nodeid] = now

    def heartbeat(self):
        while not self.stop.wait(1):
            if time.monotonic() - self.last_line < IDLE_S or not self.running:
                continue
            now = time.monotonic()
            names = ", ".join("%s (%d s)" % (n.split("/")[-1], now - t)
                              for n, t in sorted(self.running.items(), key=lambda x: x[1]))
            self.write("    ... running: %s" % names)

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        # no dots: the per-test line below says it; the category keeps
        # pytest's summary ("N passed, N failed")
        if report.when == "call" or report.failed or report.skipped:
            # the word stays: the short summary shows it ("FAILED tests/...")
            if report.failed and report.when != "call":
                return "error", "", "ERROR"
            if hasattr(report, "wasxfail"):
                return None
            return report.outcome, "", report.outcome.upper()
        return None

    def pytest_runtest_logreport(self, report):
        nid = report.nodeid
        self.secs[nid] = self.secs.get(nid, 0.0) + (report.duration or 0.0)
        word = None
        if report.failed:
            word = "failed" if report.when == "call" else "error"
        elif report.skipped:
            word = "skipped"
        rank = {None: 0, "passed": 0, "skipped": 1, "failed": 2, "error": 3}
        if rank[word] > rank[self.outcome.get(nid, "passed")]:
            self.outcome[nid] = word
        if report.when != "teardown":
            return
        self.running.pop(nid, None)
        self.pending.discard(nid)
        self.done += 1
        total = self.total or self.done
        outcome = self.outcome.pop(nid, "passed")
        secs = self.secs.pop(nid)
        if outcome == "passed":
            self.passed[history_key(nid)] = round(secs, 1)
        self.finished_secs += secs
        left = ""
        if total > self.done:
            left = "  (~%s left)" % fmt(estimate_left(
                self.pending, dict(self.running), self.history, len(self.nodes),
                time.monotonic(), self.finished_secs / self.done))
        self.write("[%d/%d] %-7s %s  %.1f s%s" % (
            self.done, total, outcome.upper(), nid, secs, left))

    def pytest_sessionfinish(self, session):
        self.stop.set()
        if self.passed:
            save_history(history_path(), self.passed)


def fmt(secs):
    if secs < 90:
        return "%d s" % secs
    return "%d min" % round(secs / 60)


def register(config):
    """From conftest's pytest_configure: on the controller (or without
    xdist) when $HYPEMAN_PROGRESS is set."""
    if os.environ.get("HYPEMAN_PROGRESS") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Progress(config), "hypeman-progress")
