"""Run a sandbox and take it down with this process's parent.

``python -S guard.py [--parent PID] [--watch FOLDER BYTES] [--cgroup CGROUP]... -- COMMAND...``

bubblewrap drops the parent-death signal when it changes credentials, so a
sandboxed kernel whose grader was killed (``kill -9``, the OOM killer) would
live on.  This guard sits between the grader (process PID) and bubblewrap: it
asks Linux for SIGTERM when its parent dies (or ends at once if PID is gone
already) and then kills the sandbox, whose processes all
die with it (``--die-with-parent`` and the PID namespace), and removes the
kernel's folder and cgroups (nobody else will).  Once its child has ended, whatever is left of
its process group (the sandbox's) is killed too.  Before starting COMMAND it
moves itself into each CGROUP (so that the sandbox is counted there).  While
the sandbox runs it checks every quarter second that FOLDER (the kernel's
folder, a host folder the kernel writes in) holds at most BYTES (and at most
`MAX_ENTRIES` files), and ends the sandbox when it does not.  Interrupts sent
to the process group reach the kernel directly; the guard passes its exit code
on.  Standard library only, started with ``-S`` so that it costs milliseconds.
"""
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
#: Files and folders a kernel's folder may hold.
MAX_ENTRIES = 20000
#: Seconds between two measures of the kernel's folder.
WATCH_EVERY = 0.25
#: Exit code when the guard ended the sandbox because its folder grew too big.
TOO_BIG = 75


def folder_size(folder, limit):
    """Bytes on disk under `folder` (stops counting past `limit`; too many entries count as past it)."""
    total, entries, stack = 0, 0, [folder]
    while stack and total <= limit:
        try:
            with os.scandir(stack.pop()) as found:
                for entry in found:
                    entries += 1
                    if entries > MAX_ENTRIES:
                        return limit + 1
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += info.st_blocks * 512
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
        except OSError:
            continue
    return total


def parse(arguments):
    """(the grader's process id or None, folder to watch or None, its limit, cgroups, command)."""
    parent, watch, limit, cgroups = None, None, 0, []
    while arguments and arguments[0] != "--":
        if arguments[0] == "--parent":
            parent, arguments = int(arguments[1]), arguments[2:]
        elif arguments[0] == "--watch":
            watch, limit, arguments = arguments[1], int(arguments[2]), arguments[3:]
        elif arguments[0] == "--cgroup":
            cgroups, arguments = cgroups + [arguments[1]], arguments[2:]
        else:
            raise SystemExit(f"guard.py: unknown option {arguments[0]!r}")
    return parent, watch, limit, cgroups, arguments[1:]


def end_group():
    """SIGKILL the other processes of this guard's process group: whatever outlived the sandbox's bubblewrap.

    Inside the sandbox, bubblewrap's init dies with bubblewrap once it has asked Linux to
    (``--die-with-parent``); a bubblewrap killed while it set the sandbox up left that init behind
    for good.  The kernel manager starts the guard in a session of its own, so its group is the
    sandbox's; a guard that does not lead its group kills nothing.
    """
    me = os.getpid()
    if os.getpgrp() != me:
        return
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != me:
            try:
                if os.getpgid(int(entry)) == me:
                    os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass


def clean_up(watch, cgroups):
    """Remove the kernel's folder and cgroups (the grader is gone: nobody else will)."""
    time.sleep(0.2)
    if watch:
        shutil.rmtree(watch, ignore_errors=True)
    for cgroup in cgroups:
        try:
            with open(os.path.join(os.path.dirname(cgroup), "cgroup.procs"), "w") as procs:
                procs.write(str(os.getpid()))  # out of the cgroup, which can then go
            os.rmdir(cgroup)
        except OSError:
            pass


def main(arguments):
    parent, watch, limit, cgroups, command = parse(arguments)
    parent = parent or os.getppid()
    child, orphaned = None, []

    def stop(signum, frame):
        orphaned.append(signum)
        if child is not None:
            child.kill()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGHUP, stop)
    signal.signal(signal.SIGINT, lambda signum, frame: None)  # the kernel gets the group's SIGINT itself
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent or orphaned:  # the grader died before the request was made
        clean_up(watch, cgroups)
        return 1
    for cgroup in cgroups:
        with open(os.path.join(cgroup, "cgroup.procs"), "w") as procs:
            procs.write(str(os.getpid()))
    child = subprocess.Popen(command)
    if orphaned:
        child.kill()
    code = None
    while code is None:
        try:
            code = child.wait(timeout=WATCH_EVERY if watch else None)
        except subprocess.TimeoutExpired:
            if folder_size(watch, limit) > limit:
                child.kill()
                code = TOO_BIG
                child.wait()
        except InterruptedError:
            continue
    end_group()
    if orphaned or os.getppid() != parent:
        clean_up(watch, cgroups)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
