"""Run a command and take it down with this process's parent: ``python -S guard.py COMMAND...``.

bubblewrap drops the parent-death signal when it changes credentials, so a
sandboxed kernel whose grader was killed (``kill -9``, the OOM killer) would
live on.  This guard sits between the grader and bubblewrap: it asks Linux for
SIGTERM when its parent dies and then kills the sandbox, whose processes all
die with it (``--die-with-parent`` and the PID namespace).  Interrupts sent to
the process group reach the kernel directly; the guard passes its exit code on.
Standard library only, started with ``-S`` so that it costs milliseconds.
"""
import ctypes
import os
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1


def main(command):
    parent = os.getppid()
    child = subprocess.Popen(command)

    def stop(signum, frame):
        child.kill()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, lambda signum, frame: None)  # the kernel gets the group's SIGINT itself
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request was made
        child.kill()
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
