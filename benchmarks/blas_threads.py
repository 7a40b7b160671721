"""CPU-seconds of training with OpenBLAS's own threads against one thread, on an idle and on a busy machine.

The grader runs one process per core, and ``course.HEADLESS`` keeps each to one
BLAS thread.  This shows why: it trains the reference ``optimize`` on a
CelebA-sized problem (``n_x = 64*64*3``, ``m = 80``) in a new process, with
``OPENBLAS_NUM_THREADS`` unset (OpenBLAS starts a thread per core) and set to 1,
first with the other cores idle, then with one spinning process per core
beside it (as on a machine that grades a class), and prints the wall and CPU
seconds of each run::

    .venv/bin/python benchmarks/blas_threads.py [--iterations 1000]
"""
import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

AUTOGRADER = Path(__file__).resolve().parent.parent / "autograder"

TRAIN = """
import sys
import numpy as np
sys.path.insert(0, {autograder!r})
from reference import initialize_with_zeros, optimize
rng = np.random.default_rng(0)
X = rng.random((64 * 64 * 3, 80))
Y = (rng.random((1, 80)) > 0.5).astype(float)
w, b = initialize_with_zeros(X.shape[0])
optimize(w, b, X, Y, num_iterations={iterations}, learning_rate=0.005)
"""


def run(code, threads):
    """Wall and CPU seconds of ``python -c code`` with `threads` BLAS threads (None: OpenBLAS's default)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = env["OMP_NUM_THREADS"] = str(threads)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=1000, help="gradient-descent steps (default 1000)")
    args = parser.parse_args()
    code = TRAIN.format(autograder=str(AUTOGRADER), iterations=args.iterations)
    cores = os.cpu_count() or 1
    print(f"optimize, {args.iterations} iterations, n_x = 12288, m = 80, on {cores} cores")
    print(f"{'machine':8} {'BLAS threads':14} {'wall s':>7} {'CPU s':>7}")
    for machine in ("idle", "busy"):
        spinners = []
        if machine == "busy":
            spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(cores)]
        try:
            for threads in (None, 1):
                wall, cpu = run(code, threads)
                print(f"{machine:8} {'default' if threads is None else str(threads):14} {wall:7.1f} {cpu:7.1f}")
        finally:
            for spinner in spinners:
                spinner.kill()
                spinner.wait()


if __name__ == "__main__":
    main()
