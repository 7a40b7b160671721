"""The learner's kernel in a bubblewrap sandbox.

A `SandboxedKernelManager` starts an ipykernel that sees only a read-only
system, the course's Python environment, the learner-facing package
``firstneuron`` and one writable scratch folder holding a copy of the
submission's own folder.  The course folder (``autograder/``, ``solutions/``,
the gradebook, classmates' submissions), ``/tmp``, ``/root`` and ``/home``
are hidden; there is no network (the kernel talks to the grader over
Jupyter's ``ipc`` transport: Unix sockets in the scratch folder); the kernel
gets its own PID namespace, so nothing it starts outlives it; and it runs
under resource limits (memory, processes, file size, open files).

The limits are the traits of `Sandbox` (settable in ``nbgrader_config.py``
as ``c.Sandbox.memory_limit = ...``).  Without bubblewrap (macOS, containers
without user namespaces) `available` says why, and the grader refuses to
grade a class unless told ``--no-sandbox``.
"""
import contextlib
import fcntl
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Bool, Integer, List, Unicode
from traitlets.config import Configurable

REPO = Path(__file__).resolve().parent.parent
#: Takes the sandbox down with the grader (see guard.py).
GUARD = Path(__file__).resolve().parent / "guard.py"
#: Where the learner-facing package lives (the editable install points here).
LEARNER_PACKAGE = REPO / "firstneuron"
#: Folders a learner's kernel never sees, besides the course folder.
PRIVATE_FOLDERS = ["/tmp", "/var/tmp", "/root", "/home", "/run", "/srv", "/mnt", "/media", "/opt/conda/pkgs"]
#: Unprivileged user ids for sandboxed kernels when the grader runs as root (one per running kernel).
UID_POOL = range(61000, 62000)


class Sandbox(Configurable):
    """Settings of the learner's sandboxed kernel (bubblewrap and resource limits)."""

    enabled = Bool(True, help="Run learners' kernels in a bubblewrap sandbox.").tag(config=True)
    memory_limit = Integer(2 * 1024**3, help="Bytes of address space a kernel may use (RLIMIT_AS).").tag(config=True)
    process_limit = Integer(
        256, help="Processes and threads a kernel may run (RLIMIT_NPROC, applied when grading as root, "
        "where each kernel gets a user id of its own).").tag(config=True)
    file_size_limit = Integer(64 * 1024**2, help="Bytes one file written by a kernel may reach.").tag(config=True)
    open_files_limit = Integer(256, help="Files a kernel may have open at once.").tag(config=True)
    scratch_limit = Integer(256 * 1024**2, help="Bytes of the submission folder copied into the scratch folder.").tag(
        config=True)
    course_folder = Unicode("", help="The course folder to hide (default: the working folder).").tag(config=True)
    hidden_folders = List(Unicode(), PRIVATE_FOLDERS, help="Other folders hidden from kernels.").tag(config=True)


def available():
    """``None`` when sandboxed kernels can start here, else one line saying why not."""
    if not sys.platform.startswith("linux"):
        return f"bubblewrap sandboxes need Linux (this is {sys.platform})"
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    probe = subprocess.run(["bwrap", "--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "true"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"bubblewrap cannot start a sandbox here: {probe.stderr.strip()[:200]}"
    return None


def warn_if_unavailable(echo=print):
    """True when learners' kernels can be sandboxed here; else warn (trusted code only) and return False."""
    reason = available()
    if reason:
        echo(f"warning: running without a sandbox: {reason}")
    return reason is None


def _folders_to(path, mounts):
    """bubblewrap options that make the folders between the tmpfs in `mounts` covering `path` and `path`.

    bubblewrap makes a missing parent of a mount point with mode 700, which the
    kernel's own user could not enter; these are made with mode 755 first.
    """
    target = Path(path)
    covering = [Path(m) for m in mounts if target != Path(m) and target.is_relative_to(m)]
    if not covering:
        return []
    top = max(covering, key=lambda m: len(m.parts))
    options = []
    for parent in reversed(target.parents):
        if parent != top and parent.is_relative_to(top):
            options += ["--perms", "0755", "--dir", str(parent)]
    return options


@contextlib.contextmanager
def _unused_uid():
    """An unprivileged user id no other running kernel holds (a lock file per id)."""
    folder = Path(tempfile.gettempdir()) / "firstneuron-uids"
    folder.mkdir(exist_ok=True)
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


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel in a bubblewrap sandbox, reached over ``ipc`` sockets in its scratch folder.

    ``start_kernel(cwd=FOLDER)`` copies FOLDER (the submission's own folder)
    into a fresh scratch folder, which is the kernel's working folder and the
    only place it can write.  ``cleanup_resources`` removes the scratch folder.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.settings = Sandbox(parent=self)
        self.scratch = Path(tempfile.mkdtemp(prefix="firstneuron-kernel-"))
        os.chmod(self.scratch, 0o755)
        self.transport = "ipc"
        self.ip = str(self.scratch / "kernel")
        self.connection_file = str(self.scratch / "kernel.json")
        self._uid_lock = contextlib.ExitStack()
        self.uid = None

    def _work_folder(self):
        return self.scratch / "work"

    async def _async_pre_start_kernel(self, **kw):
        source = kw.pop("cwd", None)
        work = self._work_folder()
        if source:
            copy_limited(Path(source), work, self.settings.scratch_limit)
        work.mkdir(exist_ok=True)
        for name in ("home", "mpl"):
            (self.scratch / name).mkdir(exist_ok=True)
        self._copy_font_cache()
        if os.geteuid() == 0 and self.uid is None:
            self.uid = self._uid_lock.enter_context(_unused_uid())
            for path in [self.scratch, *self.scratch.rglob("*")]:
                os.chown(path, self.uid, self.uid, follow_symlinks=False)
        kw["cwd"] = str(self.scratch)
        kw["env"] = self._environment()
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL  # the kernel's banner is not the grader's output
        return await super()._async_pre_start_kernel(**kw)

    async def _async_launch_kernel(self, kernel_cmd, **kw):
        if self.uid is not None:  # the connection file is written after the scratch folder was handed over
            os.chown(self.connection_file, self.uid, self.uid)
        return await super()._async_launch_kernel(kernel_cmd, **kw)

    _launch_kernel = _async_launch_kernel

    def _copy_font_cache(self):
        """Give matplotlib the grader's font list, so that it does not rebuild it in every kernel."""
        try:
            import matplotlib

            for path in Path(matplotlib.get_cachedir()).glob("fontlist-*.json"):
                shutil.copyfile(path, self.scratch / "mpl" / path.name)
        except (ImportError, OSError):
            pass

    def _environment(self):
        return {
            "PATH": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(self.scratch / "home"),
            "MPLCONFIGDIR": str(self.scratch / "mpl"),
            "IPYTHONDIR": str(self.scratch / "home" / ".ipython"),
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LANG": "C.UTF-8",
            **{k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ},
        }

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = super().format_kernel_cmd(extra_arguments)
        return self.wrap(kernel)

    def wrap(self, command):
        """`command` run in the sandbox, under the resource limits."""
        settings = self.settings
        limits = ["prlimit", f"--as={settings.memory_limit}", f"--fsize={settings.file_size_limit}",
                  f"--nofile={settings.open_files_limit}", "--core=0"]
        if self.uid is not None:
            limits.append(f"--nproc={settings.process_limit}")
        course = Path(settings.course_folder or os.getcwd()).resolve()
        hidden = [str(REPO), str(course), *settings.hidden_folders]
        bwrap = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        mounts = []  # tmpfs folders so far: what is below them must be made, enterable, before a mount
        for folder in sorted(dict.fromkeys(hidden), key=lambda f: len(Path(f).parts)):  # parents first
            if Path(folder).is_dir():
                bwrap += [*_folders_to(folder, mounts), "--tmpfs", folder]
                mounts.append(folder)
        # The Python environment and the learner-facing package, wherever they are (as named, and
        # as resolved: a venv may be a symlink).
        python = {Path(sys.prefix), Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), LEARNER_PACKAGE,
                  Path(sys.executable).parent, Path(os.path.realpath(sys.executable)).parent.parent}
        for folder in sorted(python, key=lambda f: len(f.parts)):
            bwrap += [*_folders_to(str(folder), mounts), "--ro-bind", str(folder), str(folder)]
        bwrap += _folders_to(str(self.scratch), mounts)
        bwrap += ["--bind", str(self.scratch), str(self.scratch), "--chdir", str(self._work_folder()),
                  "--die-with-parent", "--clearenv"]
        for key, value in self._environment().items():
            bwrap += ["--setenv", key, value]
        if self.uid is None:  # an ordinary user: bubblewrap makes a user namespace
            bwrap += ["--unshare-all"]
            user = []
        else:  # root: mount as root, then run the kernel as an unprivileged user of its own
            bwrap += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                      "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
            user = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups",
                    "--inh-caps=-all", "--bounding-set=-all", "--"]
        # The sandbox dies with the process that started it (a killed grader leaves no kernel behind).
        return [sys.executable, "-S", str(GUARD), *limits, "--", *bwrap, "--", *user, *command]

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self._uid_lock.close()
            self.uid = None

    cleanup_resources = _async_cleanup_resources
