"""The grader's worker: one sanitized submission run with `trusted.TrustedExecute`, its notebook sent back.

A worker is a process of the driver's local pool or of a Dask cluster
(grading.py); either imports this module by name (``PYTHONPATH=autograder``)
and calls `execute_submission` with plain data only.  Each worker imports
the grading machinery once (`worker_init`) and keeps the sandboxed kernel of
its next submission booting while the current one runs (the warm kernel:
`prestart_kernel`, `kernel_fits`).
"""
import contextlib
import multiprocessing.util
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import nbformat
from traitlets.config import Config, Configurable

#: This process's warm kernel (``"km"``) and the process that registered its shutdown (``"finalizer"``).
_WARM = {}


def exit_with_driver(driver):
    """End this process as soon as the process `driver` is gone (killed with -9: no orphan keeps grading)."""
    def watch():
        while True:
            time.sleep(0.5)
            try:
                os.kill(driver, 0)
            except ProcessLookupError:
                import sandbox

                sandbox.remove_own_folders()  # one made before its kernel's guard started has no guard yet
                os._exit(1)  # the sandbox guards see their parent die and take the kernels down
            except PermissionError:
                pass

    threading.Thread(target=watch, daemon=True, name="driver-watch").start()


def worker_init(driver):
    """Import the grading machinery once per worker process, and end the worker with its driver."""
    exit_with_driver(driver)
    import trusted  # noqa: F401  (numpy, nbclient, the checks' dependencies)


# --- The warm kernel --------------------------------------------------------------------------------

def _shut_down_warm_kernel():
    """Shut down the kernel this process kept booting for a next submission that never came."""
    km = _WARM.pop("km", None)
    if km is not None:
        from jupyter_core.utils import run_sync

        with contextlib.suppress(Exception):
            run_sync(km.shutdown_kernel)(now=True)


def _keep_warm(km):
    """Keep `km` for the next submission; it is shut down at this process's exit if none comes.

    A worker of a process pool ends with ``os._exit`` after multiprocessing's
    finalizers (atexit handlers do not run there); in the driver's own process
    the finalizers run at exit too.  Registered once per process (a forked
    child starts with no finalizers).
    """
    if _WARM.get("finalizer") != os.getpid():
        multiprocessing.util.Finalize(None, _shut_down_warm_kernel, exitpriority=100)
        _WARM["finalizer"] = os.getpid()
    _WARM["km"] = km


def prestart_kernel():
    """Start booting the sandboxed kernel of the next submission graded in this process, unless one is booting.

    The kernel boots (numpy and matplotlib imported) while the driver prepares
    the submission (the self-check); `execute_submission` takes it.  The
    kernel sees no course folder (the sandbox shows an allow-list), so it
    serves any course graded with the default sandbox settings.
    """
    if "km" not in _WARM:
        _keep_warm(_warm_kernel({"config": {}}))


def kernel_fits(km, settings):
    """True when the sandbox of the kernel `km` has exactly the settings `settings` asks for.

    Parameters
    ----------
    km : sandbox.SandboxedKernelManager
    settings : dict
        What `execute_submission` is given: ``config`` holds the ``Sandbox`` section, if any.
    """
    wanted = settings["config"].get("Sandbox", {})
    defaults = {name: trait.default() for name, trait in km.settings.traits(config=True).items()}
    return all(getattr(km.settings, name) == wanted.get(name, default) for name, default in defaults.items())


def _warm_kernel(settings):
    """A sandboxed kernel already booting (numpy and matplotlib imported), for the next submission."""
    import sandbox
    from jupyter_core.utils import run_sync

    config = Config(settings["config"])
    km = sandbox.SandboxedKernelManager(kernel_name="python3", config=config)
    run_sync(km.start_kernel)(extra_arguments=[
        "--HistoryManager.hist_file=:memory:",
        "--IPKernelApp.exec_lines=['import numpy, matplotlib, matplotlib.pyplot']"])
    return km


# --- One submission -----------------------------------------------------------------------------------

def plain_config(config, *more):
    """The settings a worker reads, as nested dicts of plain values (to send to workers).

    Every section named after a configurable class of `trusted.TrustedExecute`,
    `sandbox.SandboxedKernelManager`, `sandbox.Sandbox` or the classes `more`
    (their bases included: ``Execute``, ``NotebookClient``, ``KernelManager``
    ...) is sent; values that are not plain data (classes, functions) stay behind.
    """
    import sandbox
    import trusted

    def plain(value):
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        return value is None or isinstance(value, (int, float, str, bool))

    roots = (trusted.TrustedExecute, sandbox.SandboxedKernelManager, sandbox.Sandbox, *more)
    sections = {cls.__name__ for root in roots for cls in root.mro() if issubclass(cls, Configurable)}
    out = {}
    for section in sorted(sections & set(config)):
        values = {k: v for k, v in config[section].items() if plain(v)}
        if values:
            out[section] = values
    return out


def _claim(claim):
    """Write which submission this worker holds, ``(folder, key)``, to ``folder/PID``; returns the file, or None."""
    if not claim:
        return None
    path = Path(claim[0]) / str(os.getpid())
    with contextlib.suppress(OSError):
        path.write_text(str(claim[1]))
        return path
    return None


def execute_submission(notebook_json, files, settings, claim=None):
    """Run one sanitized submission with `TrustedExecute`; return plain data.

    Parameters
    ----------
    notebook_json : str
        The notebook after nbgrader's sanitizing preprocessors.
    files : dict of str to bytes
        The other files of the submission's folder (the course's ``given.py`` among them).
    settings : dict
        ``config``: the traitlets settings as nested dicts (`plain_config`): ``TrustedExecute.sandbox``
        says whether the kernel is sandboxed, ``Grading.seed`` the hidden checks' seed (None: a fresh
        one per check); ``warm``: boot the next submission's kernel meanwhile (default True).
    claim : (str, str), optional
        A folder and the submission's key: while it runs, ``folder/PID`` holds the key, so
        that the driver knows which submission a worker that died was grading (`grading.WorkerPool`).

    Returns
    -------
    result : dict
        ``notebook`` (JSON text) and ``seconds``, or ``error`` (one line).
    """
    import trusted
    from jupyter_core.utils import run_sync

    start = time.monotonic()
    claimed = _claim(claim)
    config = Config(settings["config"])
    seed = settings["config"].get("Grading", {}).get("seed")
    if seed is not None:  # for reproducible grading: checks.new_seed reads it
        os.environ["FIRSTNEURON_SEED"] = str(seed)
    else:
        os.environ.pop("FIRSTNEURON_SEED", None)
    km = None
    folder = Path(tempfile.mkdtemp(prefix="firstneuron-submission-"))
    try:
        nb = nbformat.reads(notebook_json, as_version=4)
        for name, data in files.items():
            target = (folder / name).resolve()
            if not target.is_relative_to(folder):
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        executor = trusted.TrustedExecute(config=config)
        if executor.sandbox:
            km = _WARM.pop("km", None)
            if km is not None and not (kernel_fits(km, settings) and run_sync(km.is_alive)()):
                run_sync(km.shutdown_kernel)(now=True)  # booted for another course or died: not this one's
                km = None
            km = km or _warm_kernel(settings)
            work = km.scratch / "work"
            shutil.copytree(folder, work, dirs_exist_ok=True)
            if km.uid is not None:
                for path in [work, *work.rglob("*")]:
                    os.chown(path, km.uid, km.uid, follow_symlinks=False)
            if settings.get("warm", True):
                _keep_warm(_warm_kernel(settings))  # boots while this one runs
        executor.preprocess(nb, {"metadata": {"path": str(folder)}}, km=km)
        return {"notebook": nbformat.writes(nb), "seconds": time.monotonic() - start}
    except Exception as error:  # one broken submission never stops the others: report it as data
        return {"error": f"{type(error).__name__}: {error}"[:500], "seconds": time.monotonic() - start}
    finally:
        if km is not None:
            with contextlib.suppress(Exception):
                run_sync(km.shutdown_kernel)(now=True)
        shutil.rmtree(folder, ignore_errors=True)
        if claimed is not None:
            claimed.unlink(missing_ok=True)
