"""CelebA: the original male / female experiment, for owners of a copy.

CelebA's licence forbids redistributing it, so the course does not ship it:
:func:`load_celeba` reads a local copy (the aligned images and
``list_attr_celeba.txt``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError

CELEBA_SIZE = 64
CELEBA_CLASSES = ("male", "female")
CELEBA_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _check_n(n):
    """Return ``n`` as an int of at least 2.

    Parameters
    ----------
    n : int
        Number of images asked for.

    Returns
    -------
    int

    Raises
    ------
    DataError
        If ``n`` is not an integer (a bool is refused) or is below 2.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"n must be an integer, found {n!r}")
    n = int(n)
    if n < 2:
        raise DataError(f"n must be at least 2 (one train and one test image), found {n}")
    return n


def _first_images(images_dir, n):
    """The first ``n`` image files of ``images_dir`` in file-name order.

    Parameters
    ----------
    images_dir : pathlib.Path
        An existing folder.
    n : int
        Number of files wanted.

    Returns
    -------
    list of pathlib.Path
        ``n`` files ending in one of :data:`CELEBA_IMAGE_SUFFIXES`.

    Raises
    ------
    DataError
        If the folder holds fewer than ``n`` images.
    """
    files = sorted(
        (p for p in images_dir.iterdir()
         if p.suffix.lower() in CELEBA_IMAGE_SUFFIXES and p.is_file()),
        key=lambda p: p.name,
    )
    if len(files) < n:
        raise DataError(
            f"n={n} but the image folder {images_dir} holds only {len(files)} "
            f"images ({', '.join(CELEBA_IMAGE_SUFFIXES)})"
        )
    return files[:n]


def _parse_celeba_header(fh, attr_path):
    """Read the two header lines of ``list_attr_celeba.txt``.

    Parameters
    ----------
    fh : file
        The attributes file, open for reading at its start.
    attr_path : pathlib.Path
        Its path, for error messages.

    Returns
    -------
    declared : int
        The number of images stated on line 1.
    names : list of str
        The attribute names of line 2 (``"Male"`` among them).

    Raises
    ------
    DataError
        If line 1 is not a number, line 2 is empty or has no ``Male``.
    """
    first = fh.readline()
    try:
        declared = int(first.strip())
    except ValueError:
        raise DataError(
            f"{attr_path}, line 1: expected the number of images, found {first.strip()!r}"
        ) from None
    names = fh.readline().split()
    if not names:
        raise DataError(f"{attr_path}, line 2: expected the attribute names, found nothing")
    if "Male" not in names:
        raise DataError(
            f"{attr_path}, line 2: no 'Male' attribute among the {len(names)} "
            "attribute names"
        )
    return declared, names


def _check_row(parts, n_names, attr_path, line_no):
    """Refuse an attribute row that is not a file name and ``n_names`` values -1/1.

    Parameters
    ----------
    parts : list of str
        The row split on white space.
    n_names : int
        Number of attributes declared on line 2.
    attr_path : pathlib.Path
        The attributes file, for the message.
    line_no : int
        The row's line number, for the message.

    Raises
    ------
    DataError
        Wrong number of fields, or a value other than -1 and 1.
    """
    if len(parts) != n_names + 1:
        raise DataError(
            f"{attr_path}, line {line_no}: malformed row, expected a "
            f"file name and {n_names} values, found {len(parts)} fields"
        )
    bad = [v for v in parts[1:] if v not in ("-1", "1")]
    if bad:
        raise DataError(
            f"{attr_path}, line {line_no}: malformed row, attribute "
            f"values must be -1 or 1, found {bad[0]!r}"
        )


def _read_female_flags(attr_path, wanted, n):
    """Read which of the ``wanted`` images are female (``Male`` is -1).

    Rows are checked up to the last wanted image; reading stops there.

    Parameters
    ----------
    attr_path : pathlib.Path
        CelebA's ``list_attr_celeba.txt``.
    wanted : set of str
        File names of the images to label.
    n : int
        Number of images asked for, checked against line 1.

    Returns
    -------
    female : dict
        File name -> bool, for the wanted names that have a row.
    n_rows : int
        Number of non-blank attribute rows read.

    Raises
    ------
    DataError
        Unreadable file, bad header, ``n`` above the declared count,
        malformed or duplicate row.
    """
    female = {}
    try:
        with attr_path.open(encoding="utf-8-sig") as fh:
            declared, names = _parse_celeba_header(fh, attr_path)
            if n > declared:
                raise DataError(
                    f"n={n} is larger than the number of images declared on "
                    f"line 1 of {attr_path} ({declared})"
                )
            male_col = names.index("Male")
            n_rows = 0
            for line_no, line in enumerate(fh, start=3):
                parts = line.split()
                if not parts:
                    continue
                n_rows += 1
                _check_row(parts, len(names), attr_path, line_no)
                if parts[0] in female:
                    raise DataError(
                        f"{attr_path}, line {line_no}: duplicate row for {parts[0]}"
                    )
                if parts[0] in wanted:
                    female[parts[0]] = parts[1 + male_col] == "-1"
                    if len(female) == len(wanted):
                        break
    except DataError:
        raise
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {attr_path}: {err}") from err
    return female, n_rows


def _check_every_image_has_a_row(files, female, n_rows, attr_path):
    """Refuse images that the attributes file does not label.

    Parameters
    ----------
    files : list of pathlib.Path
        The images to use (``n`` of them).
    female : dict
        File name -> bool, as :func:`_read_female_flags` returns.
    n_rows : int
        Number of attribute rows read.
    attr_path : pathlib.Path
        The attributes file, for the message.

    Raises
    ------
    DataError
        If an image has no row: "n is larger than the number of attribute
        rows" when there are fewer rows than images, else the first image
        without a row.
    """
    missing = [p for p in files if p.name not in female]
    if not missing:
        return
    n = len(files)
    if n > n_rows:
        raise DataError(
            f"n={n} is larger than the number of attribute rows in "
            f"{attr_path} ({n_rows})"
        )
    raise DataError(
        f"image {missing[0]} has no attribute row in {attr_path}"
        + (f" (nor do {len(missing) - 1} more)" if len(missing) > 1 else "")
    )


def _read_face(path):
    """Read one CelebA image, centre-cropped to a square and resized.

    Parameters
    ----------
    path : pathlib.Path
        The image file.

    Returns
    -------
    ndarray of shape (64, 64, 3), dtype uint8
        RGB pixels; the square's side is min(width, height), resized with
        Lanczos resampling.

    Raises
    ------
    DataError
        If the image cannot be read.
    """
    try:
        with Image.open(path) as im:
            im.load()
            rgb = im.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read image {path}: {err}") from err
    w, h = rgb.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    square = rgb.crop((left, top, left + side, top + side))
    small = square.resize((CELEBA_SIZE, CELEBA_SIZE), Image.Resampling.LANCZOS)
    return np.asarray(small, dtype=np.uint8)


def celeba_train_size(n):
    """How many of ``n`` CelebA images `load_celeba` puts in the training set: ``int(0.8 * n)``.

    Parameters
    ----------
    n : int
        Number of images loaded.

    Returns
    -------
    int
    """
    return int(0.8 * n)


def load_celeba(images_dir, attributes_file, n=100):
    """Load the first ``n`` CelebA images as a male / female data set.

    This reproduces the original experiment for people who own a copy of
    CelebA (the CelebA licence forbids redistributing it, so the course does
    not ship it). The first ``n`` image files of ``images_dir`` in file-name
    order (``000001.jpg``, ``000002.jpg``, ... -- the order of
    ``list_attr_celeba.txt``) are centre-cropped to a square (side =
    min(width, height)), resized to 64x64 with Lanczos resampling and kept as
    RGB. The first ``int(0.8 * n)`` images form the training set and the rest
    the test set, in order.

    Parameters
    ----------
    images_dir : str or path-like
        Folder holding the CelebA images (``.jpg``, ``.jpeg`` or ``.png``),
        e.g. ``img_align_celeba/`` (178x218 aligned images).
    attributes_file : str or path-like
        CelebA's ``list_attr_celeba.txt``: line 1 = number of images, line 2 =
        attribute names separated by spaces, then one line per image:
        file name followed by one -1/1 value per attribute.
    n : int, default 100
        Number of images to use, at least 2.

    Returns
    -------
    train_x_orig : ndarray of shape (int(0.8 * n), 64, 64, 3), dtype uint8
        Training images.
    train_y : ndarray of shape (1, int(0.8 * n)), dtype int64
        1 = female (attribute ``Male`` is -1), 0 = male.
    test_x_orig : ndarray of shape (n - int(0.8 * n), 64, 64, 3), dtype uint8
        Test images.
    test_y : ndarray of shape (1, n - int(0.8 * n)), dtype int64
        Test labels.
    classes : tuple of str
        ``("male", "female")``.

    Raises
    ------
    DataError
        Missing folder or attributes file, no ``Male`` column, malformed
        row, image without an attribute row, ``n`` < 2 or larger than the
        number of images or attribute rows, unreadable image.
    """
    images_dir = Path(images_dir).expanduser()
    attr_path = Path(attributes_file).expanduser()
    n = _check_n(n)
    if not attr_path.is_file():
        raise DataError(f"CelebA attributes file not found: {attr_path}")
    if not images_dir.is_dir():
        raise DataError(f"CelebA image folder not found: {images_dir}")

    files = _first_images(images_dir, n)
    female, n_rows = _read_female_flags(attr_path, {p.name for p in files}, n)
    _check_every_image_has_a_row(files, female, n_rows, attr_path)

    images = np.empty((n, CELEBA_SIZE, CELEBA_SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(files):
        images[i] = _read_face(p)
    labels = np.array([int(female[p.name]) for p in files], dtype=np.int64)
    m_train = celeba_train_size(n)
    return (
        images[:m_train],
        labels[:m_train].reshape(1, -1),
        images[m_train:],
        labels[m_train:].reshape(1, -1),
        CELEBA_CLASSES,
    )
