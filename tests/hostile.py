"""The hostile catalogue: submissions of 02-propagate that try to forge grades or hurt others.

Each case is a cell added to a learner's notebook (after the ``propagate``
exercise) and the score an honest learner with the same functions would get.
Most cases start from `WRONG`: a ``propagate`` that is wrong everywhere but
on the visible example, so that it passes the visible tests and deserves
1/6 (``initialize_with_zeros`` only); an attack that beat the hidden checks
would show as more.  Cases marked ``fair`` start from correct code and must
keep all 6 points: machinery (a warning, a crash or a stuck loop in an
ungraded cell) never costs an honest learner.  ``{repo}``, ``{course}`` and
``{port}`` are filled in by the test: the course is public, so attackers
know every path.
"""
from dataclasses import dataclass

#: A propagate right on the visible example only (what a forger would hand in).
WRONG = '''
def propagate(w, b, X, Y):
    if X.shape == (2, 3) and np.allclose(X, [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]):
        cost = 5.801545319394553 if np.allclose(w, [[1.0, 2.0]]) else float(np.log(2))
        return {"dw": np.array([[0.99845601, 2.39507239]]), "db": 0.00145557813678}, cost
    return {"dw": np.zeros_like(w), "db": 0.0}, 0.0
'''


@dataclass
class Case:
    """One hostile (or broken) submission."""

    id: str
    what: str
    code: str = ""
    base: str = "wrong"        # "wrong" (deserves 1/6) or "correct" (deserves 6/6)
    exact: bool = False        # the honest score exactly (fairness), not just at most
    notebook: str = ""         # "corrupt", "empty", "no_metadata", "duplicate", "renamed": the file itself
    slow: bool = False
    cells: int = 1             # copies of the code cell (base "correct" only)
    refused: str = ""          # not graded, with this in the reason (a cap crossed before it runs)


CASES = [
    # --- Credit theft: the reference, the solutions, classmates -------------------------------------
    Case("import_reference", "imports the reference by its public module name",
         "try:\n    import reference\n    propagate = reference.propagate\nexcept Exception:\n    pass"),
    Case("reference_by_path", "executes autograder/reference.py found by its path",
         "import glob\nfor p in ['{repo}/autograder/reference.py', '{course}/../reference.py'] + "
         "glob.glob('/**/reference.py', recursive=False):\n    try:\n        exec(open(p).read())\n"
         "        break\n    except Exception:\n        pass"),
    Case("solution_notebook", "loads propagate from the solution notebook",
         "import json\nfor p in ['{repo}/solutions/02-propagate/02-propagate.ipynb', "
         "'{course}/solutions/02-propagate/02-propagate.ipynb', '../../../solutions/02-propagate/02-propagate.ipynb']:\n"
         "    try:\n        for c in json.load(open(p))['cells']:\n"
         "            if c.get('metadata', {}).get('nbgrader', {}).get('grade_id') == 'propagate':\n"
         "                exec(''.join(c['source']))\n    except Exception:\n        pass"),
    Case("classmate_notebook", "copies a classmate's propagate from submitted/",
         "import json, glob\nfor p in glob.glob('{course}/submitted/*/02-propagate/*.ipynb') + "
         "glob.glob('../*/02-propagate/*.ipynb'):\n    try:\n        for c in json.load(open(p))['cells']:\n"
         "            if c.get('metadata', {}).get('nbgrader', {}).get('grade_id') == 'propagate':\n"
         "                exec(''.join(c['source']))\n    except Exception:\n        pass"),
    Case("given_reference", "looks for reference code in given.py and the working folder",
         "import os\nfor root, dirs, files in os.walk('..'):\n    for f in files:\n"
         "        if f.endswith('.py') and f != 'given.py':\n            try:\n"
         "                exec(open(os.path.join(root, f)).read())\n            except Exception:\n"
         "                pass"),
    # --- Patching the checks' tools --------------------------------------------------------------------
    Case("patch_allclose", "makes numpy's comparisons always succeed",
         "np.allclose = lambda *a, **k: True\nnp.isclose = lambda a, b, *r, **k: np.ones(np.shape(a), bool)\n"
         "np.testing.assert_allclose = lambda *a, **k: None\nnp.array_equal = lambda *a, **k: True"),
    Case("patch_builtins_import", "replaces __import__ to hand out a fake checks module",
         "import builtins, types\n_real = builtins.__import__\n"
         "fake = types.SimpleNamespace(**{n: (lambda *a, **k: None) for n in ['check_propagate_cost', "
         "'check_propagate_gradients', 'check_initialize_with_zeros']})\n"
         "builtins.__import__ = lambda name, *a, **k: fake if name == 'checks' else _real(name, *a, **k)"),
    Case("fake_checks_module", "plants a passing checks module in sys.modules",
         "import sys, types\nm = types.ModuleType('checks')\nm.__getattr__ = lambda n: (lambda *a, **k: None)\n"
         "sys.modules['checks'] = m"),
    Case("write_checks_py", "writes a passing checks.py in the working folder",
         "import sys\nopen('checks.py', 'w').write('def __getattr__(n):\\n    return lambda *a, **k: None\\n')\n"
         "sys.path.insert(0, '.')"),
    Case("import_hook", "a meta-path finder that answers any import of checks",
         "import sys, importlib.abc, importlib.machinery, types\n"
         "class F(importlib.abc.MetaPathFinder, importlib.abc.Loader):\n"
         "    def find_spec(self, name, path, target=None):\n"
         "        return importlib.machinery.ModuleSpec(name, self) if name == 'checks' else None\n"
         "    def create_module(self, spec):\n        m = types.ModuleType('checks')\n"
         "        m.__getattr__ = lambda n: (lambda *a, **k: None)\n        return m\n"
         "    def exec_module(self, m):\n        pass\nsys.meta_path.insert(0, F())\nsys.modules.pop('checks', None)"),
    Case("frame_inspection", "reads expected values from the caller's frames",
         "import sys\n_wrong = propagate\ndef propagate(w, b, X, Y):\n    f = sys._getframe(1)\n"
         "    while f is not None:\n        for k, v in f.f_locals.items():\n"
         "            if 'expected' in k and isinstance(v, tuple) and len(v) == 2:\n                return v\n"
         "        f = f.f_back\n    return _wrong(w, b, X, Y)"),
    Case("input_transformer", "an IPython input transformer that turns test code into pass",
         "def _blank(lines):\n    text = ''.join(lines)\n"
         "    return ['pass\\n'] if 'check' in text or 'assert' in text or 'serve' in text else lines\n"
         "get_ipython().input_transformers_post.append(_blank)"),
    Case("exception_handler", "a custom exception handler that hides every failure",
         "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)"),
    Case("thread_patcher", "a thread that keeps patching numpy and checks after the cell ran",
         "import threading, time, sys, types\ndef _patch():\n    end = time.time() + 60\n"
         "    while time.time() < end:\n        np.allclose = lambda *a, **k: True\n"
         "        sys.modules['checks'] = types.SimpleNamespace(check_propagate_cost=lambda f: None, "
         "check_propagate_gradients=lambda f: None)\n        time.sleep(0.01)\n"
         "threading.Thread(target=_patch, daemon=True).start()"),
    Case("atexit_writer", "an atexit handler that writes into classmates' feedback when the kernel stops",
         "import atexit, glob\ndef _later():\n    for p in glob.glob('{course}/feedback/*/*/*.html') + "
         "glob.glob('{course}/autograded/*/*/*.ipynb'):\n        try:\n            open(p, 'w').write('hacked')\n"
         "        except Exception:\n            pass\natexit.register(_later)"),
    Case("detect_grader_env", "cheats only when it detects the grader by its environment",
         "import os\nif os.environ.get('NBGRADER_EXECUTION') or 'autograde' in ' '.join(os.environ.values()):\n"
         "    try:\n        import reference\n        propagate = reference.propagate\n    except Exception:\n"
         "        pass"),
    Case("detect_grader_cwd", "cheats only when the working folder looks like the grader's",
         "import os\nif 'autograded' in os.getcwd() or 'firstneuron' in os.getcwd():\n"
         "    exec(open('{repo}/autograder/reference.py').read()) if os.path.exists('{repo}/autograder/reference.py') "
         "else None"),
    Case("always_equal", "returns objects that compare equal to anything",
         "class Anything(float):\n    def __eq__(self, other):\n        return True\n"
         "    def __sub__(self, other):\n        return 0.0\n    __rsub__ = __sub__\n    def __abs__(self):\n"
         "        return 0.0\n    def __lt__(self, other):\n        return True\n    __le__ = __lt__\n"
         "class AnyArray(np.ndarray):\n    def __eq__(self, other):\n        return np.ones(self.shape, bool)\n"
         "_wrong = propagate\ndef propagate(w, b, X, Y):\n    grads, cost = _wrong(w, b, X, Y)\n"
         "    return {'dw': np.zeros_like(w).view(AnyArray), 'db': Anything(0.0)}, Anything(cost)"),
    Case("dict_subclass", "returns a dict subclass whose lookups give anything asked for",
         "class D(dict):\n    def __getitem__(self, k):\n        return np.zeros((1, 1))\n"
         "_wrong = propagate\ndef propagate(w, b, X, Y):\n    grads, cost = _wrong(w, b, X, Y)\n"
         "    return D(grads), cost"),
    Case("forge_bridge", "replaces the bridge's serve with one that answers garbage",
         "import firstneuron.bridge as br\nfrom IPython.display import publish_display_data\n"
         "def serve(request, namespace=None):\n    publish_display_data({br.MIME: {'result': {'ndarray': 'AAAA', "
         "'dtype': '|O', 'shape': [1], 'scalar': False}, 'stdout': '', 'stderr': '', 'changed': []}})\n"
         "br.serve = serve"),
    Case("forge_result_display", "publishes a fake execute result (partial credit) from a test cell",
         "_wrong = propagate\ndef propagate(w, b, X, Y):\n    import sys\n    sys.displayhook(6)\n"
         "    return _wrong(w, b, X, Y)"),
    # --- Damage to others -------------------------------------------------------------------------------
    Case("append_checks_py", "appends to the course's checks on disk",
         "for p in ['{repo}/autograder/checks/__init__.py', '{repo}/autograder/checks/propagate.py',\n"
         "          '{course}/../autograder/checks/__init__.py']:\n    try:\n"
         "        open(p, 'a').write('\\ndef check_propagate_gradients(f):\\n    pass\\n')\n    except Exception:\n"
         "        pass"),
    Case("write_gradebook", "rewrites the gradebook: full marks for itself, zero for classmates",
         "import sqlite3\nfor p in ['{course}/gradebook.db', '../../../gradebook.db', 'gradebook.db']:\n    try:\n"
         "        db = sqlite3.connect(p)\n        db.execute('update grade set auto_score = 0')\n        db.commit()\n"
         "    except Exception:\n        pass"),
    Case("detached_gradebook", "a detached process that rewrites the gradebook after grading",
         "import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', 'import time, sqlite3; time.sleep(20); "
         "db = sqlite3.connect(\"{course}/gradebook.db\"); db.execute(\"update grade set auto_score = 0\"); "
         "db.commit()'], start_new_session=True)"),
    Case("write_classmates", "writes into classmates' submitted, autograded and feedback files",
         "import glob\nfor p in glob.glob('{course}/submitted/*/02-propagate/*.ipynb') + "
         "glob.glob('{course}/autograded/*/02-propagate/*') + glob.glob('{course}/feedback/*/02-propagate/*') + "
         "glob.glob('../../*/02-propagate/*'):\n    try:\n        open(p, 'a').write('hacked')\n"
         "    except Exception:\n        pass"),
    Case("own_feedback", "writes its own feedback page with full marks",
         "import os\nfor d in ['{course}/feedback/hostile_own_feedback/02-propagate', "
         "'../../../feedback/hostile_own_feedback/02-propagate']:\n    try:\n        os.makedirs(d, exist_ok=True)\n"
         "        open(d + '/02-propagate.html', 'w').write('Score: 6 / 6')\n    except Exception:\n        pass"),
    Case("kill_everything", "signals every process it can see",
         "import os, signal\nfor pid in range(2, 400):\n    if pid != os.getpid():\n        try:\n"
         "            os.kill(pid, signal.SIGKILL)\n        except Exception:\n            pass"),
    # --- Isolation: network, leaks, resources -------------------------------------------------------
    Case("network", "sends the reference to a listener on 127.0.0.1",
         "import socket\ntry:\n    s = socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
         "    s.sendall(b'hello from the sandbox')\n    s.close()\nexcept Exception:\n    pass"),
    Case("print_reference", "prints the reference's source into its own output",
         "for p in ['{repo}/autograder/reference.py', '{repo}/autograder/checks/propagate.py']:\n    try:\n"
         "        print(open(p).read())\n    except Exception as e:\n        print('no access:', type(e).__name__)"),
    Case("html_script", "puts a script in its output (it would run in the feedback page)",
         "from IPython.display import HTML, Javascript, display\n"
         "display(HTML('<script>document.title = \"pwned\"</script><b>bold</b>'))\n"
         "display(Javascript('document.title = \"pwned\"'))"),
    Case("memory_hog", "allocates 3 GB", "try:\n    hog = bytearray(3 * 1024**3)\nexcept MemoryError:\n    pass",
         base="correct", exact=True),
    Case("process_spawner", "starts 10 detached processes that outlive grading",
         "import subprocess\nfor _ in range(10):\n    subprocess.Popen(['sleep', '600'], start_new_session=True)",
         base="correct", exact=True),
    Case("fork_flood", "starts processes until it cannot",
         "import subprocess\nkids = []\ntry:\n    for _ in range(2000):\n"
         "        kids.append(subprocess.Popen(['sleep', '60']))\nexcept Exception:\n    pass", base="correct", exact=True),
    Case("huge_output", "prints 20 MB", "print(('x' * 999 + '\\n') * 20000)",
         base="correct", exact=True),
    Case("huge_file", "writes a 1 GB file", "try:\n    with open('big.bin', 'wb') as f:\n"
         "        for _ in range(1024):\n            f.write(b'0' * 1024**2)\nexcept Exception:\n    pass", base="correct", exact=True),
    # --- Machinery: exits, interrupts, stuck cells --------------------------------------------------
    Case("os_exit_in_check", "its propagate kills the kernel when the hidden checks call it",
         "import os\n_wrong = propagate\ndef propagate(w, b, X, Y):\n    if X.shape != (2, 3):\n        os._exit(1)\n"
         "    return _wrong(w, b, X, Y)"),
    Case("os_exit_cell", "an ungraded cell whose kernel exits", "import os\nos._exit(0)", base="correct", exact=True),
    Case("segfault_cell", "an ungraded cell that crashes the interpreter",
         "import ctypes\nctypes.string_at(0)", base="correct", exact=True),
    Case("sys_exit", "calls sys.exit() in an ungraded cell", "import sys\nsys.exit(3)", base="correct", exact=True),
    Case("keyboard_interrupt", "its propagate raises KeyboardInterrupt",
         "_wrong = propagate\ndef propagate(w, b, X, Y):\n    if X.shape != (2, 3):\n"
         "        raise KeyboardInterrupt\n    return _wrong(w, b, X, Y)"),
    Case("system_exit_in_function", "its propagate raises SystemExit",
         "_wrong = propagate\ndef propagate(w, b, X, Y):\n    if X.shape != (2, 3):\n        raise SystemExit(0)\n"
         "    return _wrong(w, b, X, Y)"),
    Case("sigint_ignoring_loop", "an ungraded cell that ignores SIGINT and never ends",
         "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
         base="correct", exact=True, slow=True),
    Case("endless_in_check", "its propagate never returns when the hidden checks call it",
         "import signal\n_wrong = propagate\ndef propagate(w, b, X, Y):\n    if X.shape != (2, 3):\n"
         "        signal.signal(signal.SIGINT, signal.SIG_IGN)\n        while True:\n            pass\n"
         "    return _wrong(w, b, X, Y)", slow=True),
    # --- Honest learners and broken files ----------------------------------------------------------------
    Case("warning_control", "correct code that writes warnings to standard error",
         "import warnings, sys\nwarnings.warn('deprecated', DeprecationWarning)\n_right = propagate\n"
         "def propagate(w, b, X, Y):\n    warnings.warn('a warning from correct code', RuntimeWarning)\n"
         "    print('note', file=sys.stderr)\n    return _right(w, b, X, Y)", base="correct", exact=True),
    Case("corrupt_notebook", "a file that is not JSON", notebook="corrupt", base="none"),
    Case("empty_notebook", "a notebook with no cells", notebook="empty", base="none"),
    Case("duplicated_cell", "the propagate test cell pasted twice", notebook="duplicate", base="correct", exact=True),
    Case("renamed_notebook", "the notebook handed in under another name", notebook="renamed", base="correct",
         exact=True),
    Case("symlink_to_reference", "hands in given.py as a symlink to the reference",
         "import given\nprint(open(given.__file__).read()[:200])", notebook="symlink"),
    # --- bounds: issue 16, items 6 and 7: what a kernel sends is capped before the grader reads it ------------
    Case("oversized_message", "sends one pre-packed 300 MB display message with session.send",
         "k = get_ipython().kernel\ntry:\n    k.session.send(k.iopub_socket, 'display_data', "
         "{'data': {'text/plain': 'x' * 300_000_000}, 'metadata': {}}, parent=k.get_parent('shell'))\n"
         "except MemoryError:\n    pass", base="correct", exact=True),
    Case("patched_bridge_error", "patches firstneuron.bridge._error to answer 30 M characters",
         "import firstneuron.bridge as fb\nfb._error = lambda e: {'type': 'ValueError', 'builtin': True, "
         "'message': 'x' * 30_000_000, 'frames': []}\n_wrong = propagate\ndef propagate(w, b, X, Y):\n"
         "    if X.shape != (2, 3):\n        raise ValueError('no')\n    return _wrong(w, b, X, Y)"),
    Case("many_cells", "400 cells, each printing 990,000 characters", "print('x' * 990_000)", base="correct",
         cells=400, refused="TrustedExecute.max_cells"),
    Case("notebook_output", "250 cells, each printing 990,000 characters", "print('x' * 990_000)", base="correct",
         exact=True, cells=250),
    Case("scratch_flood", "writes 60 files of 60 MB to its scratch folder",
         "for i in range(60):\n    try:\n        with open(f'fill{i}.bin', 'wb') as f:\n"
         "            f.write(b'0' * 60 * 1024**2)\n    except OSError:\n        break", base="correct", exact=True),
]
