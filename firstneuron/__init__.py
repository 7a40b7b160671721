"""First Neuron: learner-facing helpers (data loading and plotting)."""
from .warning_lines import install as _name_the_learners_lines

_name_the_learners_lines()  # a warning of a cell's code names "line N of your `propagate`", not a scratch file
