"""Built-in data sets: shipped inside installed packages, loaded by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .errors import DataError


@dataclass(frozen=True)
class DatasetInfo:
    """One entry of :data:`DATASETS`.

    Attributes
    ----------
    description : str
        One-line description shown by ``python -m firstneuron.data list``.
    loader : callable
        Function with no required argument returning the 5-tuple
        ``(train_x_orig, train_y, test_x_orig, test_y, classes)``.
    """

    description: str
    loader: Callable[[], tuple]


def load_faces():
    """Load the face / not-face data set (scikit-image's LFW subset).

    The 200 greyscale 25x25 images come inside the scikit-image package
    (``skimage.data.lfw_subset()``): 100 faces from Labeled Faces in the Wild
    and 100 patches cut from the backgrounds of the same photographs. No
    network is used.

    The split is stratified and deterministic: within each class the images
    are shuffled with ``np.random.default_rng(0)`` (a local generator; the
    global NumPy random state is neither used nor changed), 80 of each class
    go to the training set and 20 of each class to the test set, and each set
    is then shuffled so it is not sorted by label.

    Returns
    -------
    train_x_orig : ndarray of shape (160, 25, 25, 1), dtype uint8
        Training images, pixel values 0..255.
    train_y : ndarray of shape (1, 160), dtype int64
        Training labels: 1 = face, 0 = not face (80 of each).
    test_x_orig : ndarray of shape (40, 25, 25, 1), dtype uint8
        Test images.
    test_y : ndarray of shape (1, 40), dtype int64
        Test labels (20 of each class).
    classes : tuple of str
        ``("not face", "face")``.
    """
    import skimage.data  # imported here: only this loader needs it

    x = np.asarray(skimage.data.lfw_subset(), dtype=np.float64)
    if x.shape != (200, 25, 25):
        raise DataError(
            f"skimage.data.lfw_subset() returned shape {x.shape}, expected (200, 25, 25)"
        )
    images = np.round(np.clip(x, 0.0, 1.0) * 255).astype(np.uint8)[..., np.newaxis]
    # The first 100 images are faces, the last 100 are not faces.
    labels = np.concatenate([np.ones(100, np.int64), np.zeros(100, np.int64)])

    rng = np.random.default_rng(0)
    train_idx, test_idx = [], []
    for cls in (0, 1):
        idx = rng.permutation(np.flatnonzero(labels == cls))
        n_test = len(idx) // 5  # 20 %
        train_idx.append(idx[n_test:])
        test_idx.append(idx[:n_test])
    train_idx = rng.permutation(np.concatenate(train_idx))
    test_idx = rng.permutation(np.concatenate(test_idx))

    return (
        images[train_idx],
        labels[train_idx].reshape(1, -1),
        images[test_idx],
        labels[test_idx].reshape(1, -1),
        ("not face", "face"),
    )


DATASETS: dict[str, DatasetInfo] = {
    "faces": DatasetInfo(
        description=(
            "face / not face: 200 greyscale 25x25 images from Labeled Faces in "
            "the Wild (scikit-image's lfw_subset), 160 train / 40 test, balanced"
        ),
        loader=load_faces,
    ),
}
"""Built-in data sets: name -> :class:`DatasetInfo`."""


def load_dataset(name="faces"):
    """Load a built-in data set by name.

    Parameters
    ----------
    name : str, default "faces"
        A key of :data:`DATASETS`.

    Returns
    -------
    train_x_orig : ndarray of shape (m_train, height, width, channels), dtype uint8
        Training images.
    train_y : ndarray of shape (1, m_train), dtype int64
        Training labels, 0 or 1.
    test_x_orig : ndarray of shape (m_test, height, width, channels), dtype uint8
        Test images.
    test_y : ndarray of shape (1, m_test), dtype int64
        Test labels, 0 or 1.
    classes : tuple of str
        ``(name of class 0, name of class 1)``.

    Raises
    ------
    DataError
        (a ``ValueError``) if ``name`` is not a known data set.
    """
    info = DATASETS.get(name) if isinstance(name, str) else None
    if info is None:
        known = ", ".join(repr(k) for k in DATASETS)
        raise DataError(f"unknown data set {name!r}; known data sets: {known}")
    return info.loader()
