"""The one exception the data loaders raise."""


class DataError(ValueError):
    """A data set or data file is missing, malformed or inconsistent.

    The message names the offending file (or folder) and the problem.
    """
