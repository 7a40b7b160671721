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
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Callable

import numpy as np
from PIL import Image, UnidentifiedImageError

__all__ = [
    "DATASETS",
    "DataError",
    "DatasetInfo",
    "describe",
    "export_image_folder",
    "load_celeba",
    "load_course_data",
    "load_dataset",
    "load_faces",
    "load_image_folder",
    "main",
]

LABELS_FILE = "labels.csv"
CLASSES_FILE = "classes.txt"
LABELS_HEADER = ("split", "file", "label")
SPLITS = ("train", "test")

CELEBA_SIZE = 64
CELEBA_CLASSES = ("male", "female")
CELEBA_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")

# Pillow modes read as greyscale (1 channel); every other mode is read as RGB.
_GREY_MODES = {"1", "L", "LA", "La"}
_GREY_16BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_UNSUPPORTED_MODES = {"I", "F"}


class DataError(ValueError):
    """A data set or data file is missing, malformed or inconsistent.

    The message names the offending file (or folder) and the problem.
    """


# --------------------------------------------------------------------------
# Built-in data sets
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# Image folders
# --------------------------------------------------------------------------


def _read_image(path, *, what="image"):
    """Read one image file as a uint8 array of shape (h, w, 1) or (h, w, 3)."""
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            if mode in _GREY_16BIT_MODES:
                # Pillow's convert("L") clips 16-bit values at 255; scale instead.
                a16 = np.asarray(im, dtype=np.uint16)
                arr = np.round(a16 / 257.0).astype(np.uint8)[..., np.newaxis]
            elif mode in _UNSUPPORTED_MODES:
                raise DataError(
                    f"{what} {path} has Pillow mode {mode!r} (32-bit integer or "
                    "float pixels), which is not supported; save it as 8-bit "
                    "greyscale or RGB"
                )
            elif mode in _GREY_MODES:
                arr = np.asarray(im.convert("L"), dtype=np.uint8)[..., np.newaxis]
            elif mode == "RGB":
                arr = np.asarray(im, dtype=np.uint8)
            elif mode in ("P", "PA"):
                # via RGBA so palette transparency converts without warnings
                arr = np.asarray(im.convert("RGBA").convert("RGB"), dtype=np.uint8)
            else:  # RGBA, CMYK, YCbCr, LAB, HSV, ...
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read {what} {path}: {err}") from err
    return np.array(arr, copy=True)


def _safe_relative(folder, name, labels_path, line):
    """Return folder/name, refusing paths that leave ``folder``."""
    where = f"{labels_path}, line {line}"
    if not name:
        raise DataError(f"{where}: empty file name")
    if (
        PurePosixPath(name).is_absolute()
        or PureWindowsPath(name).is_absolute()
        or PureWindowsPath(name).drive
        or name.startswith(("/", "\\"))
    ):
        raise DataError(
            f"{where}: file path {name!r} is absolute; paths must be relative "
            "to the folder holding labels.csv"
        )
    parts = name.replace("\\", "/").split("/")
    if ".." in parts:
        raise DataError(
            f"{where}: file path {name!r} escapes the folder (contains '..')"
        )
    full = folder / Path(*parts)
    try:
        full.resolve().relative_to(folder.resolve())
    except ValueError:
        raise DataError(
            f"{where}: file path {name!r} resolves to {full.resolve()}, "
            f"outside the folder {folder}"
        ) from None
    return full


def _read_classes(folder):
    path = folder / CLASSES_FILE
    if not path.exists():
        return ("0", "1")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) != 2:
        raise DataError(
            f"{path} must hold exactly two non-empty lines (name of class 0, "
            f"name of class 1); found {len(names)}"
        )
    return (names[0], names[1])


def _read_labels(folder):
    """Parse labels.csv; return {split: [(path, label, line), ...]}."""
    path = folder / LABELS_FILE
    if not path.is_file():
        raise DataError(
            f"missing {LABELS_FILE} in {folder}: expected {path} with header "
            "'split,file,label'"
        )
    rows = {split: [] for split in SPLITS}
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or tuple(c.strip() for c in header) != LABELS_HEADER:
                raise DataError(
                    f"{path}: bad header {','.join(header or [])!r}, expected "
                    "'split,file,label'"
                )
            for row in reader:
                line = reader.line_num
                if not row:  # a blank line carries no data
                    continue
                if len(row) != 3:
                    raise DataError(
                        f"{path}, line {line}: expected 3 columns "
                        f"(split,file,label), found {len(row)}: {','.join(row)!r}"
                    )
                split, name, label = (c.strip() for c in row)
                if split not in SPLITS:
                    raise DataError(
                        f"{path}, line {line}: unknown split {split!r}, expected "
                        "'train' or 'test'"
                    )
                if label not in ("0", "1"):
                    raise DataError(
                        f"{path}, line {line}: label must be 0 or 1, found {label!r}"
                    )
                full = _safe_relative(folder, name, path, line)
                rows[split].append((full, int(label), line))
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    for split in SPLITS:
        if not rows[split]:
            raise DataError(f"{path}: the {split} split is empty (no '{split}' rows)")
    return rows


def load_image_folder(path):
    """Load a data set stored as a folder of images plus ``labels.csv``.

    Folder format::

        DIR/labels.csv     header "split,file,label", then one row per image:
                           split = train or test, file = path relative to DIR
                           (forward slashes), label = 0 or 1
        DIR/classes.txt    optional: two non-empty lines, the names of
                           class 0 and class 1 (default "0", "1")
        DIR/...            the images (any format Pillow reads)

    All images must have the same size and must all be greyscale (Pillow
    modes "1", "L", "LA", "I;16"; 16-bit values are scaled to 0..255) or all
    colour (RGB; "RGBA", "P", "CMYK", ... are converted to RGB, alpha is
    dropped). Within each split the order is the order of the rows in
    ``labels.csv``. Blank lines in ``labels.csv`` are ignored; every other
    problem raises :class:`DataError`.

    Parameters
    ----------
    path : str or path-like
        The folder holding ``labels.csv``.

    Returns
    -------
    train_x_orig : ndarray of shape (m_train, height, width, channels), dtype uint8
        Training images; channels is 1 (greyscale) or 3 (RGB).
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
        Missing folder or ``labels.csv``, bad header, wrong number of columns,
        unknown split, empty split, label other than 0/1, path leaving the
        folder, missing / unreadable / corrupt image, images of different
        sizes, grey and colour images mixed, bad ``classes.txt``.
    """
    folder = Path(path).expanduser()
    if not folder.exists():
        raise DataError(f"image folder not found: {folder}")
    if not folder.is_dir():
        raise DataError(f"not a folder: {folder}")
    classes = _read_classes(folder)
    rows = _read_labels(folder)

    first = None  # (path, shape) of the first image
    out = {}
    for split in SPLITS:
        images, labels = [], []
        for full, label, _line in rows[split]:
            arr = _read_image(full)
            if first is None:
                first = (full, arr.shape)
            else:
                (fh, fw, fc), (h, w, c) = first[1], arr.shape
                if (h, w) != (fh, fw):
                    raise DataError(
                        f"image {full} is {w}x{h} (width x height) but the first "
                        f"image {first[0]} is {fw}x{fh}; all images must have "
                        "the same size"
                    )
                if c != fc:
                    kind = {1: "greyscale", 3: "colour (RGB)"}
                    raise DataError(
                        f"image {full} is {kind[c]} but the first image "
                        f"{first[0]} is {kind[fc]}; grey and colour images "
                        "cannot be mixed"
                    )
            images.append(arr)
            labels.append(label)
        out[split] = (
            np.stack(images).astype(np.uint8, copy=False),
            np.asarray(labels, dtype=np.int64).reshape(1, -1),
        )
    return (out["train"][0], out["train"][1], out["test"][0], out["test"][1], classes)


def _check_dataset(dataset):
    """Validate a 5-tuple; return it with arrays as ndarrays."""
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


def export_image_folder(dataset, path):
    """Write a data set in the image-folder format read by :func:`load_image_folder`.

    Writes ``train/0000.png``, ..., ``test/0000.png``, ... (8-bit PNG,
    greyscale or RGB, lossless), ``labels.csv`` and ``classes.txt``.
    ``load_image_folder(export_image_folder(dataset, path))`` returns arrays
    identical to ``dataset``.

    Parameters
    ----------
    dataset : tuple
        ``(train_x_orig, train_y, test_x_orig, test_y, classes)`` as returned
        by the loaders: images ``uint8`` of shape (m, height, width, channels)
        with channels 1 or 3, labels of shape (1, m) holding 0/1, classes two
        strings.
    path : str or path-like
        Destination folder; it must not exist yet or be empty.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    DataError
        If the folder is not empty, is a file, or the data set is malformed.
    """
    train_x, train_y, test_x, test_y, classes = _check_dataset(dataset)
    for name in classes:
        if not name.strip() or name != name.strip() or "\n" in name or "\r" in name:
            raise DataError(
                f"class name {name!r} cannot be stored in {CLASSES_FILE}: it must "
                "be non-empty, on one line, without leading/trailing spaces"
            )
    folder = Path(path).expanduser()
    if folder.exists():
        if not folder.is_dir():
            raise DataError(f"cannot export to {folder}: it is a file, not a folder")
        if any(folder.iterdir()):
            raise DataError(
                f"cannot export to {folder}: the folder is not empty "
                "(choose a new or empty folder)"
            )
    folder.mkdir(parents=True, exist_ok=True)

    rows = []
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        (folder / split).mkdir()
        width = max(4, len(str(len(x) - 1)))
        for i, (img, label) in enumerate(zip(x, y[0])):
            rel = f"{split}/{i:0{width}d}.png"
            pixels = img[:, :, 0] if img.shape[-1] == 1 else img
            Image.fromarray(np.ascontiguousarray(pixels)).save(folder / rel)
            rows.append((split, rel, int(label)))
    with (folder / LABELS_FILE).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(LABELS_HEADER)
        writer.writerows(rows)
    (folder / CLASSES_FILE).write_text(f"{classes[0]}\n{classes[1]}\n", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------
# CelebA
# --------------------------------------------------------------------------


def _parse_celeba_header(fh, attr_path):
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
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise DataError(f"n must be an integer, found {n!r}")
    n = int(n)
    if n < 2:
        raise DataError(f"n must be at least 2 (one train and one test image), found {n}")
    if not attr_path.is_file():
        raise DataError(f"CelebA attributes file not found: {attr_path}")
    if not images_dir.is_dir():
        raise DataError(f"CelebA image folder not found: {images_dir}")

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
    files = files[:n]
    wanted = {p.name for p in files}

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
                if len(parts) != len(names) + 1:
                    raise DataError(
                        f"{attr_path}, line {line_no}: malformed row, expected a "
                        f"file name and {len(names)} values, found {len(parts)} fields"
                    )
                if any(v not in ("-1", "1") for v in parts[1:]):
                    bad = next(v for v in parts[1:] if v not in ("-1", "1"))
                    raise DataError(
                        f"{attr_path}, line {line_no}: malformed row, attribute "
                        f"values must be -1 or 1, found {bad!r}"
                    )
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

    missing = [p for p in files if p.name not in female]
    if missing:
        if n > n_rows:
            raise DataError(
                f"n={n} is larger than the number of attribute rows in "
                f"{attr_path} ({n_rows})"
            )
        raise DataError(
            f"image {missing[0]} has no attribute row in {attr_path}"
            + (f" (nor do {len(missing) - 1} more)" if len(missing) > 1 else "")
        )

    images = np.empty((n, CELEBA_SIZE, CELEBA_SIZE, 3), dtype=np.uint8)
    for i, p in enumerate(files):
        try:
            with Image.open(p) as im:
                im.load()
                rgb = im.convert("RGB")
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise DataError(f"cannot read image {p}: {err}") from err
        w, h = rgb.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        square = rgb.crop((left, top, left + side, top + side))
        small = square.resize((CELEBA_SIZE, CELEBA_SIZE), Image.Resampling.LANCZOS)
        images[i] = np.asarray(small, dtype=np.uint8)

    labels = np.array([int(female[p.name]) for p in files], dtype=np.int64)
    m_train = int(0.8 * n)
    return (
        images[:m_train],
        labels[:m_train].reshape(1, -1),
        images[m_train:],
        labels[m_train:].reshape(1, -1),
        CELEBA_CLASSES,
    )


# --------------------------------------------------------------------------
# Describe
# --------------------------------------------------------------------------


def load_course_data(celeba=None, n=100):
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
        As `load_dataset`.
    """
    if celeba is None:
        return load_dataset("faces")
    folder = Path(celeba).expanduser()
    return load_celeba(folder / "img_align_celeba", folder / "list_attr_celeba.txt", n=n)


def describe(dataset, name=None):
    """Summarise a data set: counts, image shape, channels, class balance.

    Parameters
    ----------
    dataset : tuple
        ``(train_x_orig, train_y, test_x_orig, test_y, classes)``.
    name : str, optional
        Title printed on the first line.

    Returns
    -------
    str
        Several lines of text, e.g.::

            train: 160 images, 25x25 pixels (height x width), 1 channel (greyscale), uint8
              class 0 'not face':  80 (50.0 %)
              class 1 'face':      80 (50.0 %)
    """
    train_x, train_y, test_x, test_y, classes = _check_dataset(dataset)
    lines = [f"data set: {name}"] if name else []
    total = len(train_x) + len(test_x)
    lines.append(
        f"{total} images: {len(train_x)} train, {len(test_x)} test; "
        f"classes: 0 = {classes[0]!r}, 1 = {classes[1]!r}"
    )
    width = max(len(repr(c)) for c in classes)
    for split, x, y in (("train", train_x, train_y), ("test", test_x, test_y)):
        m, h, w, c = x.shape
        kind = "1 channel (greyscale)" if c == 1 else "3 channels (RGB)"
        lines.append(f"{split}: {m} images, {h}x{w} pixels (height x width), {kind}, {x.dtype}")
        for k in (0, 1):
            count = int(np.sum(y == k))
            lines.append(
                f"  class {k} {repr(classes[k]) + ':':<{width + 1}} {count:>5} "
                f"({100.0 * count / m:.1f} %)"
            )
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _parser():
    parser = argparse.ArgumentParser(
        prog="python -m firstneuron.data",
        description="List, describe and export the First Neuron data sets.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("list", help="list the built-in data sets (default)")
    p_desc = sub.add_parser("describe", help="describe a data set")
    group = p_desc.add_mutually_exclusive_group(required=True)
    group.add_argument("name", nargs="?", metavar="NAME", help="built-in data set name")
    group.add_argument("--folder", metavar="DIR", type=Path, help="an image folder (labels.csv)")
    p_exp = sub.add_parser("export", help="write a built-in data set as an image folder")
    p_exp.add_argument("name", metavar="NAME", help="built-in data set name")
    p_exp.add_argument("dir", metavar="DIR", type=Path, help="new or empty folder")
    return parser


def main(argv=None):
    """Command-line entry point: ``python -m firstneuron.data [COMMAND]``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 2 on a data error (message on stderr).
    """
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "list"):
            width = max(len(k) for k in DATASETS)
            for key, info in DATASETS.items():
                print(f"{key:<{width}}  {info.description}")
        elif args.command == "describe":
            if args.folder is not None:
                folder = args.folder.resolve()
                print(describe(load_image_folder(folder), name=str(folder)))
            else:
                dataset = load_dataset(args.name)
                print(describe(dataset, name=f"{args.name} ({DATASETS[args.name].description})"))
        elif args.command == "export":
            folder = export_image_folder(load_dataset(args.name), args.dir.resolve())
            print(f"wrote data set {args.name!r} to {folder}")
    except (DataError, OSError) as err:
        message = " ".join(str(err).split("\n"))
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
