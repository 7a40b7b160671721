"""The learner's kernel in a bubblewrap sandbox that shows only what it needs (an allow-list).

A `SandboxedKernelManager` starts an ipykernel in an empty root file system
holding, read-only, the system folders (``/usr`` and the ``/bin``, ``/lib``,
``/lib64``, ``/sbin`` links or folders), a few ``/etc`` files (`ETC_FILES`),
the course's Python environment and the Python prefix it uses, the
learner-facing package ``firstneuron`` and `Sandbox.extra_read_only`; plus
``/proc`` (its own PID namespace), a minimal ``/dev``, size-limited tmpfs
folders ``/tmp`` and ``/dev/shm`` of its own, and its own kernel folder.
Nothing else is mounted: not the course folder, the repository, other
checkouts, ``/opt``, ``/srv``, ``/home``, the host's ``/tmp``, classmates'
kernel folders.

Kernel folders live under one private root (`Sandbox.scratch_root`, by
default ``$TMPDIR/firstneuron-sandbox-UID``, mode 0700): one folder per
kernel, holding its connection file and ``ipc`` sockets (the kernel talks to
the grader over Jupyter's ``ipc`` transport; there is no network), its
working folder ``work/`` (a copy of the submission's own folder), ``home/``
and ``mpl/``.  Inside the sandbox the kernel sees its own folder and empty
parents only.  The folder is a host folder (the grader copies the
submission in after the kernel booted), so its size is watched by the guard
(guard.py), which ends the sandbox when it passes `Sandbox.scratch_limit`.

Who the kernel runs as:

* grader run as root: a user id of its own from `UID_POOL`, no
  capabilities, ``RLIMIT_NPROC`` per kernel;
* grader run as an ordinary user: bubblewrap's user namespace (the kernel
  has the grading user's id outside, no capabilities); the process limit is
  set inside the namespace, where Linux counts the kernel's own processes.

Memory and processes are also limited by a cgroup per kernel where the grader
may make one (the grader's own cgroup v1 ``memory``/``pids`` hierarchies or a
delegated v2 cgroup, or `Sandbox.cgroup_parents`); without one, memory is
limited per process by ``RLIMIT_AS`` and the grader says so in one line
(`limits_note`).

The limits are the traits of `Sandbox` (settable in ``nbgrader_config.py``
as ``c.Sandbox.memory_limit = ...``).  Without bubblewrap (macOS, containers
without user namespaces) `available` says why, and the grader refuses to
grade a class unless told ``--no-sandbox``; kernels then run unprotected,
still over ``ipc`` sockets (`IpcKernelManager`).
"""
import contextlib
import errno
import fcntl
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Integer, List, Unicode
from traitlets.config import Configurable

import guard
from course import HEADLESS, REPO

#: Takes the sandbox down with the grader and watches the kernel folder's size (see guard.py).
GUARD = Path(__file__).resolve().parent / "guard.py"
#: Where the learner-facing package lives (the editable install points here).
LEARNER_PACKAGE = REPO / "firstneuron"
#: System folders (or their links to /usr) a kernel sees read-only.
SYSTEM_FOLDERS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]
#: The /etc files Python, numpy, matplotlib and ipykernel read (found by running the lessons in the sandbox).
ETC_FILES = ["/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime", "/etc/nsswitch.conf",
             "/etc/mime.types", "/etc/fonts"]
#: Unprivileged user ids for sandboxed kernels when the grader runs as root (one per running kernel).
UID_POOL = range(61000, 62000)
#: Lock files of the user ids in use, one folder for every root grader on the machine (whatever its TMPDIR).
UID_LOCKS = "/tmp/firstneuron-uids"
#: A kernel folder's name: the grader's process id, then a random part (`clean_stale` reads the first).
FOLDER_PREFIX = "k"
#: A per-kernel cgroup's name starts with this.
CGROUP_PREFIX = "firstneuron-"

#: The private roots this process has used (each cleaned of killed graders' leftovers when first used).
_CLEANED = set()


class Sandbox(Configurable):
    """Settings of the learner's sandboxed kernel (bubblewrap and resource limits).

    Whether kernels are sandboxed at all is ``TrustedExecute.sandbox`` (``--no-sandbox`` on the command line).
    """

    memory_limit = Integer(
        2 * 1024**3, help="Bytes of memory a kernel may use: the address space of each of its processes "
        "(RLIMIT_AS), and all its processes and tmpfs files together where a cgroup can be had.").tag(config=True)
    process_limit = Integer(
        256, help="Processes and threads a kernel may run (RLIMIT_NPROC, counted per kernel: its own user id "
        "as root, its own user namespace otherwise; and a cgroup pids limit where one can be had).").tag(config=True)
    file_size_limit = Integer(64 * 1024**2, help="Bytes one file written by a kernel may reach.").tag(config=True)
    open_files_limit = Integer(256, help="Files a kernel may have open at once.").tag(config=True)
    scratch_limit = Integer(
        256 * 1024**2, help="Bytes of a kernel's folder (the submission's copy and what the kernel writes) and "
        "of its /tmp; past them the guard ends the kernel.").tag(config=True)
    shm_limit = Integer(64 * 1024**2, help="Bytes of the kernel's own /dev/shm (a tmpfs).").tag(config=True)
    scratch_root = Unicode(
        "", help="The private folder (mode 0700) holding every kernel's folder "
        "(default: $TMPDIR/firstneuron-sandbox-UID).").tag(config=True)
    extra_read_only = List(
        Unicode(), [], help="More host folders or files kernels see read-only (default: none; the system, "
        "the Python environment and firstneuron/ are always shown).").tag(config=True)
    cgroup_parents = List(
        Unicode(), [], help="cgroup folders the grader may make a cgroup per kernel in (for example a v2 "
        "cgroup delegated to the grading user, or v1 memory/ and pids/ folders it owns); default: the "
        "grader's own cgroups, where writable.").tag(config=True)


def available():
    """``None`` when sandboxed kernels can start here, else one line saying why not."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxes need Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = subprocess.run(["bwrap", *system_mounts(), "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {probe.stderr.strip()[:200]}"
    return None


def system_mounts():
    """bubblewrap options showing the system folders read-only (/bin, /lib... as links where they are links)."""
    options = []
    for folder in SYSTEM_FOLDERS:  # /bin, /lib... are links to /usr on merged-/usr systems
        if os.path.islink(folder):
            options += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            options += ["--ro-bind", folder, folder]
    return options


def warn_if_unavailable(echo=print):
    """True when learners' kernels can be sandboxed here; else warn (trusted code only) and return False."""
    reason = available()
    if reason:
        echo(f"warning: running without a sandbox: {reason}")
    return reason is None


def limits_note(config=None):
    """One line saying what the sandbox cannot limit here (no cgroup for memory), or ``None``.

    The grader prints it once per class (`grading.grade_class`); it makes and
    removes a probe cgroup to find out.
    """
    settings = Sandbox(config=config) if config is not None else Sandbox()
    parents = settings.cgroup_parents or default_cgroup_parents()
    folders, limited = make_cgroups(parents, f"{CGROUP_PREFIX}{FOLDER_PREFIX}{os.getpid()}-probe",
                                    settings.memory_limit, settings.process_limit)
    remove_cgroups(folders)
    if "memory" in limited:
        return None
    return (f"sandbox: no cgroup can be made here, so a kernel's memory is limited per process (RLIMIT_AS, "
            f"{settings.memory_limit} bytes), not in all (see c.Sandbox.cgroup_parents)")


# --- The private root and its kernel folders ---------------------------------------------------------

#: Bytes of a Unix socket's path, at most (``sun_path`` on Linux, less its final NUL).
SOCKET_PATH_MAX = 107
#: What the grader adds to the private root for a kernel's longest socket path: ``/kPID-12HEX/kernel-NN``.
SOCKET_SUFFIX = len("/k4194304-0123456789ab/kernel-99")


def socket_path_problem(settings=None):
    """One line saying why kernels' ``ipc`` sockets cannot live under the private root, or ``None``.

    A kernel's sockets are Unix sockets in its folder; their paths must fit in
    `SOCKET_PATH_MAX` bytes, so a long ``TMPDIR`` (or ``c.Sandbox.scratch_root``)
    would make every kernel fail to start.
    """
    root = root_path(settings)
    length = len(os.fsencode(str(root))) + SOCKET_SUFFIX
    if length > SOCKET_PATH_MAX:
        return (f"{root}: kernels' socket paths below this folder would be {length} bytes long, more than the "
                f"{SOCKET_PATH_MAX} a Unix socket allows; set TMPDIR (or c.Sandbox.scratch_root) to a shorter folder")
    return None


def root_path(settings=None):
    """Where the private root is: ``c.Sandbox.scratch_root``, else ``$TMPDIR/firstneuron-sandbox-UID``."""
    configured = settings.scratch_root if settings is not None else ""
    return Path(configured or Path(tempfile.gettempdir()) / f"firstneuron-sandbox-{os.geteuid()}")


def private_root(settings=None):
    """The folder holding every kernel's folder: made with mode 0700, refused if someone else owns it."""
    root = root_path(settings)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = root.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
        raise RuntimeError(f"{root}: the sandbox's private folder is not a folder owned by this user "
                           f"(uid {os.geteuid()}); remove it or set c.Sandbox.scratch_root")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(root, 0o700)
    return root


def remove_tree(path):
    """Remove `path` even where a kernel made folders read-only (no error if it is gone)."""
    def writable_again(function, name, error):
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(name), 0o700)
            os.chmod(name, 0o700) if os.path.isdir(name) and not os.path.islink(name) else None
        with contextlib.suppress(OSError):
            function(name)

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=writable_again)


def _grader_alive(name):
    """False when the folder or cgroup `name` (``kPID-...``) belongs to a grader process that is gone."""
    try:
        pid = int(name.split("-")[0].lstrip(FOLDER_PREFIX))
    except ValueError:
        return True  # not ours to judge
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_own_folders():
    """Remove the kernel folders this process made, as it ends without its guards' help (see `exit_with_driver`).

    A kernel's guard removes its folder when the grader dies, but a folder is made
    before its kernel and guard start: a grader ended in between left it until the
    next grader's `clean_stale`.
    """
    for root in list(_CLEANED):
        for entry in Path(root).glob(f"{FOLDER_PREFIX}{os.getpid()}-*"):
            with contextlib.suppress(OSError):  # a kernel still writing: its guard removes the rest
                remove_tree(entry)


def clean_stale(root, parents=()):
    """Remove the kernel folders and cgroups of graders that were killed (their process is gone)."""
    for entry in root.iterdir():
        if entry.name.startswith(FOLDER_PREFIX) and entry.is_dir() and not _grader_alive(entry.name):
            remove_tree(entry)
    for parent in parents:
        with contextlib.suppress(OSError):
            for entry in Path(parent).iterdir():
                name = entry.name[len(CGROUP_PREFIX):]
                if entry.name.startswith(CGROUP_PREFIX) and entry.is_dir() and not _grader_alive(name):
                    with contextlib.suppress(OSError):
                        entry.rmdir()


@contextlib.contextmanager
def _unused_uid():
    """An unprivileged user id no other running kernel on this machine holds (a lock file per id)."""
    folder = Path(UID_LOCKS)
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != 0 or info.st_mode & 0o022:
        raise RuntimeError(f"{folder}: the sandbox's user-id locks are not in a folder only root may write")
    for uid in UID_POOL:
        handle = open(folder / f"{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            yield uid
        finally:
            handle.close()
        return
    raise RuntimeError(f"all {len(UID_POOL)} sandbox user ids are in use")


def copy_limited(source, target, limit):
    """Copy the folder `source` to `target`, skipping what would take it past `limit` bytes."""
    target.mkdir(parents=True, exist_ok=True)
    total = 0
    for path in sorted(Path(source).rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        size = path.stat().st_size
        if total + size > limit:
            continue
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
        total += size


def _parents(target, mounts, folders):
    """bubblewrap options making the missing parents of mount point `target` enterable (mode 755).

    bubblewrap makes a missing parent with mode 700, which the kernel's user
    could not enter.  A parent inside one of the read-only `mounts` exists
    already; `folders` holds the folders made so far (updated).
    """
    options = []
    for parent in map(str, reversed(Path(target).parents)):
        if parent in folders or any(Path(parent).is_relative_to(m) for m in mounts):
            continue
        options += ["--perms", "0755", "--dir", parent]
        folders.add(parent)
    return options


# --- cgroups ----------------------------------------------------------------------------------------------

def default_cgroup_parents():
    """The grader's own cgroups it may write in: v1 ``memory`` and ``pids``, or the v2 unified one."""
    parents = []
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers in ("memory", "pids"):
                parents.append(Path("/sys/fs/cgroup") / controllers / path.lstrip("/"))
            elif controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").is_file():
                parents.append(Path("/sys/fs/cgroup") / path.lstrip("/"))
    return [str(p) for p in parents if p.is_dir() and os.access(p, os.W_OK)]


def _write(path, value):
    with contextlib.suppress(OSError):
        Path(path).write_text(str(value))
        return True
    return False


def make_cgroups(parents, name, memory, processes):
    """Make cgroup `name` under each of `parents` with the limits it can hold.

    Returns
    -------
    folders : list of str
        The cgroups made (the guard moves the sandbox into each).
    limited : set of str
        What they limit: ``"memory"``, ``"pids"``.
    """
    folders, limited = [], set()
    for parent in parents:
        folder = Path(parent) / name
        try:
            folder.mkdir()
        except OSError:
            continue
        done = set()
        if (folder / "memory.max").exists():  # v2
            if _write(folder / "memory.max", memory):
                done.add("memory")
                _write(folder / "memory.swap.max", 0)
        elif (folder / "memory.limit_in_bytes").exists() and _write(folder / "memory.limit_in_bytes", memory):
            done.add("memory")
            _write(folder / "memory.memsw.limit_in_bytes", memory)
        if (folder / "pids.max").exists() and _write(folder / "pids.max", processes):
            done.add("pids")
        if done - limited and os.access(folder / "cgroup.procs", os.W_OK):
            folders.append(str(folder))
            limited |= done
        else:
            with contextlib.suppress(OSError):
                folder.rmdir()
    return folders, limited


def remove_cgroups(folders, wait=3.0):
    """Remove the cgroups `folders` (waiting up to `wait` seconds for their processes to end)."""
    end = time.monotonic() + wait
    for folder in folders:
        while True:
            try:
                os.rmdir(folder)
                break
            except FileNotFoundError:
                break
            except OSError as error:
                if error.errno != errno.EBUSY or time.monotonic() > end:
                    break
                time.sleep(0.05)


# --- Kernel managers --------------------------------------------------------------------------------------

class IpcKernelManager(AsyncKernelManager):
    """A kernel reached over ``ipc`` sockets in a folder of its own under the private root.

    Used as is without a sandbox (no TCP port, so no "Kernel is running over
    TCP without encryption" warnings); `SandboxedKernelManager` adds the
    sandbox.  ``cleanup_resources`` removes the folder.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.settings = Sandbox(parent=self)
        problem = socket_path_problem(self.settings)
        if problem:
            raise RuntimeError(problem)
        self.root = private_root(self.settings)
        if str(self.root) not in _CLEANED:  # once per process and private root
            _CLEANED.add(str(self.root))
            clean_stale(self.root, self._cgroup_parents())
        self.scratch = self.root / f"{FOLDER_PREFIX}{os.getpid()}-{secrets.token_hex(6)}"
        self.scratch.mkdir(mode=0o700)
        self.transport = "ipc"
        self.ip = str(self.scratch / "kernel")
        self.connection_file = str(self.scratch / "kernel.json")

    def _cgroup_parents(self):
        return self.settings.cgroup_parents or default_cgroup_parents()

    def _work_folder(self):
        return self.scratch / "work"

    async def _async_pre_start_kernel(self, **kw):
        source = kw.pop("cwd", None)
        work = self._work_folder()
        if source:
            copy_limited(Path(source), work, self.settings.scratch_limit)
        work.mkdir(exist_ok=True)
        kw["cwd"] = str(work)
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            remove_tree(self.scratch)

    cleanup_resources = _async_cleanup_resources


class SandboxedKernelManager(IpcKernelManager):
    """An ipykernel in a bubblewrap sandbox, reached over ``ipc`` sockets in its kernel folder.

    ``start_kernel(cwd=FOLDER)`` copies FOLDER (the submission's own folder)
    into the kernel folder's ``work/``, which is the kernel's working folder.
    ``cleanup_resources`` removes the kernel folder and its cgroups.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._uid_lock = contextlib.ExitStack()
        self.uid = None
        self.cgroups, self.limited = [], set()

    async def _async_pre_start_kernel(self, **kw):
        for name in ("home", "mpl", "etc"):
            (self.scratch / name).mkdir(exist_ok=True)
        self._copy_font_cache()
        if os.geteuid() == 0 and self.uid is None:
            self.uid = self._uid_lock.enter_context(_unused_uid())
        self._write_users()
        if not self.cgroups:
            self.cgroups, self.limited = make_cgroups(
                self._cgroup_parents(), f"{CGROUP_PREFIX}{self.scratch.name}", self.settings.memory_limit,
                self.settings.process_limit)
        kernel_cmd, kw = await super()._async_pre_start_kernel(**kw)
        if self.uid is not None:
            for path in [self.scratch, *self.scratch.rglob("*")]:
                if path.parent != self.scratch / "etc" and path != self.scratch / "etc":
                    os.chown(path, self.uid, self.uid, follow_symlinks=False)
        kw["env"] = self._environment()
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL  # the kernel's banner is not the grader's output
        return kernel_cmd, kw

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.uid is not None:  # the connection file is written after the kernel folder was handed over
            os.chown(self.connection_file, self.uid, self.uid)
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    _launch_kernel = _async_launch_kernel

    def _write_users(self):
        """A passwd and a group file naming only root and the kernel's user (the host's stay hidden)."""
        uid = self.uid if self.uid is not None else os.geteuid()
        gid = self.uid if self.uid is not None else os.getegid()
        home = self.scratch / "home"
        (self.scratch / "etc" / "passwd").write_text(
            f"root:x:0:0:root:/nonexistent:/usr/sbin/nologin\nlearner:x:{uid}:{gid}:learner:{home}:/usr/sbin/nologin\n")
        (self.scratch / "etc" / "group").write_text(f"root:x:0:\nlearner:x:{gid}:\n")

    def _copy_font_cache(self):
        """Give matplotlib the grader's font list, so that it does not rebuild it in every kernel.

        A grader with none cached (an account that never drew) makes it once: matplotlib's
        font manager builds the list when first imported, and caches it.
        """
        try:
            import matplotlib

            cached = list(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
            if not cached:
                from matplotlib import font_manager

                name = f"fontlist-v{font_manager.FontManager.__version__}.json"
                font_manager.json_dump(font_manager.fontManager, self.scratch / "mpl" / name)
            for path in cached:
                shutil.copyfile(path, self.scratch / "mpl" / path.name)
        except (ImportError, OSError):
            pass

    def _environment(self):
        return {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.scratch / "home"),
            "USER": "learner",
            "LOGNAME": "learner",
            "MPLCONFIGDIR": str(self.scratch / "mpl"),
            "IPYTHONDIR": str(self.scratch / "home" / ".ipython"),
            **HEADLESS,
            "PYTHONDONTWRITEBYTECODE": "1",
            "LANG": "C.UTF-8",
            **{k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        }

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = super().format_kernel_cmd(extra_arguments)
        return self.wrap(kernel)

    def read_only(self):
        """The host paths the kernel sees read-only (besides its own folder), each once, parents first."""
        python = [sys.prefix, Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
                  Path(sys.executable).parent, Path(os.path.realpath(sys.executable)).parent.parent]
        wanted = [*ETC_FILES, *map(str, python), str(LEARNER_PACKAGE), *self.settings.extra_read_only]
        found = []
        for path in sorted({os.path.abspath(p) for p in wanted if os.path.lexists(p)}, key=lambda p: len(Path(p).parts)):
            if not any(Path(path).is_relative_to(f) for f in [*SYSTEM_FOLDERS, *found]):
                found.append(path)
        return found

    def wrap(self, command):
        """`command` run in the sandbox, under the resource limits."""
        settings = self.settings
        limits = ["prlimit", f"--as={settings.memory_limit}", f"--fsize={settings.file_size_limit}",
                  f"--nofile={settings.open_files_limit}", "--core=0"]
        bwrap = ["bwrap", *system_mounts()]
        bwrap += ["--proc", "/proc", "--dev", "/dev",
                  "--perms", "1777", "--size", str(settings.shm_limit), "--tmpfs", "/dev/shm",
                  "--perms", "1777", "--size", str(settings.scratch_limit), "--tmpfs", "/tmp"]
        binds = [("--ro-bind", path, path) for path in self.read_only()]
        binds += [("--ro-bind", str(self.scratch / "etc" / name), f"/etc/{name}") for name in ("passwd", "group")]
        binds.append(("--bind", str(self.scratch), str(self.scratch)))
        mounts, folders = set(SYSTEM_FOLDERS), {"/", "/tmp", "/dev", "/proc"}
        for option, source, target in binds:
            bwrap += [*_parents(target, mounts, folders), option, source, target]
            (mounts if option == "--ro-bind" else folders).add(target)
        bwrap += ["--remount-ro", "/", "--chdir", str(self._work_folder()), "--die-with-parent", "--clearenv"]
        for key, value in self._environment().items():
            bwrap += ["--setenv", key, value]
        if self.uid is None:  # an ordinary user: bubblewrap makes a user namespace, where the kernel's
            bwrap += ["--unshare-all"]  # processes are counted apart from the grader's
            user = ["prlimit", f"--nproc={settings.process_limit}", "--"]
        else:  # root: mount as root, then run the kernel as an unprivileged user of its own
            limits.append(f"--nproc={settings.process_limit}")
            bwrap += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                      "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            user = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        guard = [sys.executable, "-S", str(GUARD), "--parent", str(os.getpid()),
                 "--watch", str(self.scratch), str(settings.scratch_limit)]
        for folder in self.cgroups:
            guard += ["--cgroup", folder]
        # The sandbox dies with the process that started it (a killed grader leaves no kernel behind).
        return [*guard, "--", *limits, "--", *bwrap, "--", *user, *command]

    def overflowed(self):
        """`Sandbox.scratch_limit` when the kernel's folder holds more (its guard then ends the sandbox), else None.

        Read from the folder itself (which the guard leaves to the grader), never from what the kernel says.
        """
        limit = self.settings.scratch_limit
        return limit if guard.folder_size(str(self.scratch), limit) > limit else None

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            remove_cgroups(self.cgroups)
            self.cgroups, self.limited = [], set()
            self._uid_lock.close()
            self.uid = None

    cleanup_resources = _async_cleanup_resources
