"""Named progress for pytest (tests/run turns it on: HYPEMAN_PROGRESS=1).

One line per test when it ends, in place of pytest's dots:

  [12/380] PASSED  tests/vm/test_exec.py::test_x[x86_64]  14.2 s  (~9 min left)

the time left estimated from the wall time per finished test so far (with
xdist's workers, the controller sees every worker's reports: the rate
includes the parallelism). While tests run and nothing ended for 15 s, a
line names what is running and for how long, so that a long test (a
systemd boot, a wait for the arm64 image built in the background) never
looks like a hang.
"""

import os
import threading
import time

import pytest

IDLE_S = 15


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

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids):
        if self.total is None:
            self.total = len(ids)

    def pytest_runtest_logstart(self, nodeid, location):
        now = time.monotonic()
        if self.t0 is None:
            self.t0 = now
            self.thread = threading.Thread(target=self.heartbeat, daemon=True)
            self.thread.start()
        self.running[nodeid] = now

    def heartbeat(self):
        while not self.stop.wait(5):
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
        self.done += 1
        total = self.total or self.done
        left = ""
        if self.t0 is not None and total > self.done:
            rate = (time.monotonic() - self.t0) / self.done
            left = "  (~%s left)" % fmt((total - self.done) * rate)
        self.write("[%d/%d] %-7s %s  %.1f s%s" % (
            self.done, total, self.outcome.pop(nid, "passed").upper(), nid,
            self.secs.pop(nid), left))

    def pytest_sessionfinish(self, session):
        self.stop.set()


def fmt(secs):
    if secs < 90:
        return "%d s" % secs
    return "%d min" % round(secs / 60)


def register(config):
    """From conftest's pytest_configure: on the controller (or without
    xdist) when $HYPEMAN_PROGRESS is set."""
    if os.environ.get("HYPEMAN_PROGRESS") and not hasattr(config, "workerinput"):
        config.pluginmanager.register(Progress(config), "hypeman-progress")
