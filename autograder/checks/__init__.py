"""The checks library: what every hidden test calls.

A check draws fresh random inputs from a seeded generator (the seed is in
every failure message, so a case can be replayed with ``seed=``), chosen to
expose transposes and broadcasting (n_x != m, m = 1) and extreme values, and
compares the learner's function with the reference: type first, then shape,
then values.  When the values are wrong it tries the fingerprints of known
mistakes and names the one that matches.  Messages never show the reference's
numbers: a learner is told what is wrong, not what to type.

One module per lesson: `data` and `sigmoid` (stage 1), `propagate` (2),
`optimize` (3), `predict` (4: predict and model), `montage` (5); `core`
holds what they share.  Hidden tests import from the package:
``from checks import check_propagate_cost``.  The package finds its lesson
modules itself and re-exports the names each lists in its ``__all__``, `core`'s
first: a new lesson is a new module with an ``__all__``,
and this file does not change.
"""
import importlib
import pkgutil

from . import core


def lesson_modules():
    """The package's lesson modules, every module but `core`, imported, in the order of their names."""
    return [importlib.import_module(f"{__name__}.{found.name}") for found in pkgutil.iter_modules(__path__)
            if found.name != "core"]


def _exports():
    """``{name: object}`` of what the package re-exports: each module's ``__all__``, `core`'s first.

    Raises
    ------
    ImportError
        When a lesson module has no ``__all__``, or two modules export the same name.
    """
    exports = {}
    for module in [core, *lesson_modules()]:
        names = getattr(module, "__all__", None)
        if names is None:
            raise ImportError(f"{module.__name__} has no __all__: list the checks it exports")
        for name in names:
            if name in exports:
                raise ImportError(f"{module.__name__} exports {name!r}, which another module of checks exports")
            exports[name] = getattr(module, name)
    return exports


_EXPORTS = _exports()
globals().update(_EXPORTS)
__all__ = list(_EXPORTS)
