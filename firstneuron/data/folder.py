"""The image-folder format: ``labels.csv``, optional ``classes.txt``, images.

:func:`load_image_folder` reads it and :func:`export_image_folder` writes it;
``load_image_folder(export_image_folder(dataset, path))`` gives ``dataset``
back.
"""

from __future__ import annotations

import csv
from pathlib import Path, PurePosixPath, PureWindowsPath

import numpy as np
from PIL import Image

from .errors import DataError
from .images import read_image
from .validate import check_dataset

LABELS_FILE = "labels.csv"
CLASSES_FILE = "classes.txt"
LABELS_HEADER = ("split", "file", "label")
SPLITS = ("train", "test")
_KIND = {1: "greyscale", 3: "colour (RGB)"}


def _safe_relative(folder, name, labels_path, line):
    """Resolve a file name of ``labels.csv``, refusing paths that leave ``folder``.

    Parameters
    ----------
    folder : pathlib.Path
        The folder holding ``labels.csv``.
    name : str
        The ``file`` column (forward or back slashes).
    labels_path : pathlib.Path
        ``labels.csv``, for the error message.
    line : int
        The row's line number, for the error message.

    Returns
    -------
    pathlib.Path
        ``folder / name``.

    Raises
    ------
    DataError
        If ``name`` is empty, absolute, contains ``..`` or resolves (through
        a link) outside ``folder``.
    """
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
    """Read ``classes.txt``.

    Parameters
    ----------
    folder : pathlib.Path
        The image folder.

    Returns
    -------
    tuple of str
        ``(name of class 0, name of class 1)``; ``("0", "1")`` without the file.

    Raises
    ------
    DataError
        If the file cannot be read or does not hold exactly two names.
    """
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


def _parse_row(row, folder, path, line):
    """Check one data row of ``labels.csv``.

    Parameters
    ----------
    row : list of str
        The row's fields, as the csv reader gives them.
    folder : pathlib.Path
        The image folder.
    path : pathlib.Path
        ``labels.csv``, for error messages.
    line : int
        The row's line number, for error messages.

    Returns
    -------
    split : str
        ``"train"`` or ``"test"``.
    full : pathlib.Path
        The image file.
    label : int
        0 or 1.

    Raises
    ------
    DataError
        Wrong number of columns, unknown split, label other than 0/1, or a
        path leaving the folder.
    """
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
    return split, _safe_relative(folder, name, path, line), int(label)


def _read_labels(folder):
    """Read ``labels.csv``.

    Parameters
    ----------
    folder : pathlib.Path
        The folder holding ``labels.csv``.

    Returns
    -------
    dict
        ``{split: [(image path, label, line number), ...]}`` for the splits
        ``"train"`` and ``"test"``, rows in file order.

    Raises
    ------
    DataError
        Missing or unreadable file, bad header, bad row, empty split.
    """
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
                if not row:  # a blank line carries no data
                    continue
                line = reader.line_num
                split, full, label = _parse_row(row, folder, path, line)
                rows[split].append((full, label, line))
    except DataError:
        raise
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read {path}: {err}") from err
    for split in SPLITS:
        if not rows[split]:
            raise DataError(f"{path}: the {split} split is empty (no '{split}' rows)")
    return rows


def _check_like_first(full, shape, first):
    """Refuse an image whose size or channels differ from the first image's.

    Parameters
    ----------
    full : pathlib.Path
        The image file, for the message.
    shape : tuple of int
        Its pixel array's shape (height, width, channels).
    first : tuple
        ``(path, shape)`` of the first image of the folder.

    Raises
    ------
    DataError
        Different (height, width), or grey and colour mixed.
    """
    (fh, fw, fc), (h, w, c) = first[1], shape
    if (h, w) != (fh, fw):
        raise DataError(
            f"image {full} is {w}x{h} (width x height) but the first "
            f"image {first[0]} is {fw}x{fh}; all images must have "
            "the same size"
        )
    if c != fc:
        raise DataError(
            f"image {full} is {_KIND[c]} but the first image "
            f"{first[0]} is {_KIND[fc]}; grey and colour images "
            "cannot be mixed"
        )


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
    train_x_orig, test_x_orig : ndarray of shape (m, height, width, channels), dtype uint8
        The training and the test images (m_train, m_test of them); channels is 1 (greyscale)
        or 3 (RGB).
    train_y, test_y : ndarray of shape (1, m), dtype int64
        Their labels, 0 or 1.
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
            arr = read_image(full)
            if first is None:
                first = (full, arr.shape)
            else:
                _check_like_first(full, arr.shape, first)
            images.append(arr)
            labels.append(label)
        out[split] = (
            np.stack(images).astype(np.uint8, copy=False),
            np.asarray(labels, dtype=np.int64).reshape(1, -1),
        )
    return (out["train"][0], out["train"][1], out["test"][0], out["test"][1], classes)


def _empty_folder(path):
    """Create ``path`` if needed, refusing a file or a folder with contents.

    Parameters
    ----------
    path : str or path-like
        The destination folder.

    Returns
    -------
    pathlib.Path
        The folder, now existing and empty.

    Raises
    ------
    DataError
        If ``path`` is a file or a folder that is not empty.
    """
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
    return folder


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
    train_x, train_y, test_x, test_y, classes = check_dataset(dataset)
    for name in classes:
        if not name.strip() or name != name.strip() or "\n" in name or "\r" in name:
            raise DataError(
                f"class name {name!r} cannot be stored in {CLASSES_FILE}: it must "
                "be non-empty, on one line, without leading/trailing spaces"
            )
    folder = _empty_folder(path)
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
