"""Check that a value is a data set: the 5-tuple every loader returns."""

from __future__ import annotations

import numpy as np

from .errors import DataError


def check_dataset(dataset):
    """Validate a data set; return it with the arrays as ndarrays.

    Parameters
    ----------
    dataset : tuple
        ``(train_x_orig, train_y, test_x_orig, test_y, classes)``: images of
        shape (m, height, width, channels) with channels 1 or 3 and dtype
        uint8, labels of shape (1, m) holding 0 or 1, classes two strings.

    Returns
    -------
    train_x_orig : ndarray of shape (m_train, height, width, channels), dtype uint8
    train_y : ndarray of shape (1, m_train)
    test_x_orig : ndarray of shape (m_test, height, width, channels), dtype uint8
    test_y : ndarray of shape (1, m_test)
    classes : tuple of str
        ``(name of class 0, name of class 1)``.

    Raises
    ------
    DataError
        If the value is not such a 5-tuple, a split is empty or the train and
        test images differ in (height, width, channels).
    """
    try:
        train_x, train_y, test_x, test_y, classes = dataset
    except (TypeError, ValueError):
        raise DataError(
            "a data set must be the 5-tuple (train_x_orig, train_y, test_x_orig, "
            "test_y, classes)"
        ) from None
    train_x, test_x = np.asarray(train_x), np.asarray(test_x)
    train_y, test_y = np.asarray(train_y), np.asarray(test_y)
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise DataError(
                f"{split} images must have shape (m, height, width, 1 or 3), "
                f"found {x.shape}"
            )
        if x.dtype != np.uint8:
            raise DataError(f"{split} images must have dtype uint8, found {x.dtype}")
        if y.shape != (1, x.shape[0]):
            raise DataError(
                f"{split} labels must have shape (1, {x.shape[0]}), found {y.shape}"
            )
        if not np.isin(y, (0, 1)).all():
            raise DataError(f"{split} labels must be 0 or 1")
        if x.shape[0] == 0:
            raise DataError(f"the {split} split is empty")
    if train_x.shape[1:] != test_x.shape[1:]:
        raise DataError(
            f"train images {train_x.shape[1:]} and test images {test_x.shape[1:]} "
            "must have the same (height, width, channels)"
        )
    if (
        not isinstance(classes, (tuple, list))
        or len(classes) != 2
        or not all(isinstance(c, str) for c in classes)
    ):
        raise DataError(f"classes must be a pair of strings, found {classes!r}")
    return train_x, train_y, test_x, test_y, tuple(classes)
