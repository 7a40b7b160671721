"""The learners' lab's server settings (``make lab`` puts learner-lab/ on JUPYTER_CONFIG_PATH).

Validate is answered by ``firstneuron_validate`` (next to this file): the
self-check with the hidden tests where the course's autograder is here, else
the visible tests, saying so.  It replaces nbgrader's ``validate_assignment``
extension (same routes, same button and dialog).
"""
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

c = get_config()  # noqa: F821
c.ServerApp.jpserver_extensions.update({
    "nbgrader.server_extensions.validate_assignment": False,
    "firstneuron_validate": True,
})
# Hidden tests in Validate when autograder/ is here (default); False: visible tests only, said so.
c.FirstNeuronValidate.hidden_tests = True
