"""Run the command line: ``python -m firstneuron.data [list|describe|export]``.

See :func:`firstneuron.data.cli.main`; ``--help`` lists the commands.
"""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
