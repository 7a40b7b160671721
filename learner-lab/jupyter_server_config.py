"""The learners' JupyterLab (`make lab`, Binder): nbgrader's Assignment List only where an exchange is set up.

Self-study has no exchange: nbgrader's Assignment List would then show "Error fetching
courses!", "The exchange directory does not exist" and a traceback in the server's log.
A class on JupyterHub has one (nbgrader's ``Exchange.root``, by default
``/usr/local/share/nbgrader/exchange``, or an exchange of its own): there the list stays.
Validate is answered by ``firstneuron_validate`` (next to this file): the
self-check with the hidden tests where the course's autograder is here, else
the visible tests, saying so.  It replaces nbgrader's ``validate_assignment``
extension (same routes, same button and dialog).

Read by Jupyter from ``JUPYTER_CONFIG_PATH=learner-lab``, with the JSON files beside it.
"""
import os
import sys
from pathlib import Path

from jupyter_core.paths import jupyter_config_path
from traitlets.config.loader import Config, ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

#: The Assignment List: its server extension and its JupyterLab plugin.
ASSIGNMENT_LIST_SERVER = "nbgrader.server_extensions.assignment_list"
ASSIGNMENT_LIST_PLUGIN = "@jupyter/nbgrader:assignment-list"


def nbgrader_config(folders):
    """nbgrader's configuration as nbgrader reads it: ``nbgrader_config.{json,py}`` of `folders`, last wins."""
    config = Config()
    for folder in folders:
        for loader in (JSONFileConfigLoader, PyFileConfigLoader):
            name = "nbgrader_config." + ("json" if loader is JSONFileConfigLoader else "py")
            if (Path(folder) / name).is_file():
                try:
                    config.merge(loader(name, path=str(folder)).load_config())
                except (ConfigFileNotFound, ValueError, SyntaxError, OSError):
                    continue
    return config


def exchange_is_set_up(folders):
    """True when nbgrader has an exchange: another exchange class, or its exchange folder exists."""
    config = nbgrader_config(folders)
    if "exchange" in config.get("ExchangeFactory", {}):
        return True
    try:
        from nbgrader.exchange.default.exchange import Exchange
        default_root = Exchange.root.default_value
    except ImportError:  # no nbgrader: no Assignment List either
        return False
    return Path(config.get("Exchange", {}).get("root", default_root)).is_dir()


def _without_assignment_list(handler, page_config):
    """JupyterLab's page configuration with the Assignment List plugin disabled."""
    disabled = list(page_config.get("disabledExtensions", []))
    if ASSIGNMENT_LIST_PLUGIN not in disabled:
        disabled.append(ASSIGNMENT_LIST_PLUGIN)
    page_config["disabledExtensions"] = disabled
    return page_config


if "get_config" in globals():  # read by Jupyter (a plain import, by a test, only defines the functions)
    c = get_config()  # noqa: F821 (given by Jupyter's config loader)
    # nbgrader reads its configuration from the folder it runs in, then Jupyter's folders (highest last).
    if not exchange_is_set_up([*reversed(jupyter_config_path()), os.getcwd()]):
        c.ServerApp.jpserver_extensions.update({ASSIGNMENT_LIST_SERVER: False})
        c.ServerApp.tornado_settings.update({"page_config_hook": _without_assignment_list})
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)  # firstneuron_validate
    c.ServerApp.jpserver_extensions.update({
        "nbgrader.server_extensions.validate_assignment": False,
        "firstneuron_validate": True,
    })
    # Hidden tests in Validate when autograder/ is here (default); False: visible tests only, said so.
    c.FirstNeuronValidate.hidden_tests = True
