"""Load the course's image data sets.

Every loader returns the data the way the classic "logistic regression with
a neural network mindset" exercise does::

    train_x_orig, train_y, test_x_orig, test_y, classes = load_dataset()

* ``train_x_orig`` / ``test_x_orig``: ``uint8`` arrays of shape
  ``(m, height, width, channels)``; ``channels`` is always present
  (1 for greyscale, 3 for RGB).
* ``train_y`` / ``test_y``: ``int64`` arrays of shape ``(1, m)`` holding 0 or 1.
* ``classes``: a tuple of two strings ``(name of class 0, name of class 1)``.

Three sources are supported:

* :func:`load_dataset` -- built-in data sets shipped with the installed
  packages (no network). The default, ``"faces"``, is scikit-image's subset of
  Labeled Faces in the Wild: face / not face, 25x25 greyscale.
* :func:`load_image_folder` -- any folder of images described by a
  ``labels.csv`` file (see the function for the format).
* :func:`load_celeba` -- the original male/female experiment, for people who
  own a copy of CelebA (its licence forbids redistributing it).

Bad input raises a single :class:`DataError` that names the file and the
problem; nothing is silently skipped.

Run ``python -m firstneuron.data --help`` for the command-line interface
(``list``, ``describe``, ``export``).

Layout: one module per job, all re-exported here.

* ``errors`` -- :class:`DataError`.
* ``builtin`` -- :data:`DATASETS`, :func:`load_faces`, :func:`load_dataset`.
* ``images`` -- reading one image file as greyscale or RGB pixels.
* ``folder`` -- the image-folder format: :func:`load_image_folder`,
  :func:`export_image_folder`.
* ``celeba`` -- :func:`load_celeba`.
* ``validate`` -- checking a value is a data set 5-tuple.
* ``summary`` -- :func:`summarize`.
* ``cli`` / ``__main__`` -- the command line.
"""

from __future__ import annotations

from pathlib import Path

from .builtin import DATASETS, DatasetInfo, load_dataset, load_faces
from .celeba import load_celeba
from .cli import main
from .errors import DataError
from .folder import export_image_folder, load_image_folder
from .summary import summarize

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetInfo",
    "export_image_folder",
    "load_celeba",
    "load_course_data",
    "load_dataset",
    "load_faces",
    "load_image_folder",
    "main",
    "summarize",
]


#: How many CelebA images `load_course_data` loads by default.
COURSE_CELEBA_IMAGES = 100


def load_course_data(celeba=None, n=COURSE_CELEBA_IMAGES):
    """The data every notebook of the course starts from.

    Parameters
    ----------
    celeba : str or path-like, optional
        ``None`` (the default) for the built-in "faces" data set. Otherwise
        the folder of a CelebA copy holding ``img_align_celeba/`` and
        ``list_attr_celeba.txt``: the original experiment, see `load_celeba`.
    n : int, default 100
        Number of CelebA images (ignored for "faces").

    Returns
    -------
    train_x_orig, train_y, test_x_orig, test_y, classes
        As `load_dataset`: images of shape (m, height, width, channels),
        dtype uint8; labels of shape (1, m), dtype int64; two class names.
    """
    if celeba is None:
        return load_dataset("faces")
    folder = Path(celeba).expanduser()
    return load_celeba(folder / "img_align_celeba", folder / "list_attr_celeba.txt", n=n)
