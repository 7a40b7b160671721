"""Read one image file as a ``uint8`` pixel array (greyscale or RGB)."""

from __future__ import annotations

import numpy as np
from PIL import Image, UnidentifiedImageError

from .errors import DataError

# Pillow modes read as greyscale (1 channel); every other mode is read as RGB.
_GREY_MODES = {"1", "L", "LA", "La"}
_GREY_16BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_UNSUPPORTED_MODES = {"I", "F"}


def _pixels(im, path, what):
    """Convert an opened Pillow image to greyscale or RGB pixels.

    Parameters
    ----------
    im : PIL.Image.Image
        The image, already loaded.
    path : pathlib.Path
        Its file, for the error message.
    what : str
        What the file is, for the error message (e.g. ``"image"``).

    Returns
    -------
    ndarray of shape (height, width, 1) or (height, width, 3), dtype uint8
        Greyscale modes give 1 channel (16-bit values scaled to 0..255);
        every other supported mode is converted to RGB (alpha dropped).

    Raises
    ------
    DataError
        For 32-bit integer or float pixels (modes "I" and "F").
    """
    mode = im.mode
    if mode in _GREY_16BIT_MODES:
        # Pillow's convert("L") clips 16-bit values at 255; scale instead.
        a16 = np.asarray(im, dtype=np.uint16)
        return np.round(a16 / 257.0).astype(np.uint8)[..., np.newaxis]
    if mode in _UNSUPPORTED_MODES:
        raise DataError(
            f"{what} {path} has Pillow mode {mode!r} (32-bit integer or "
            "float pixels), which is not supported; save it as 8-bit "
            "greyscale or RGB"
        )
    if mode in _GREY_MODES:
        return np.asarray(im.convert("L"), dtype=np.uint8)[..., np.newaxis]
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    if mode in ("P", "PA"):
        # via RGBA so palette transparency converts without warnings
        return np.asarray(im.convert("RGBA").convert("RGB"), dtype=np.uint8)
    # RGBA, CMYK, YCbCr, LAB, HSV, ...
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_image(path, *, what="image"):
    """Read one image file as greyscale or RGB pixels.

    Parameters
    ----------
    path : pathlib.Path
        The image file (any format Pillow reads).
    what : str, default "image"
        What the file is, for error messages.

    Returns
    -------
    ndarray of shape (height, width, 1) or (height, width, 3), dtype uint8
        A copy owning its memory; 1 channel for greyscale modes, 3 for the rest.

    Raises
    ------
    DataError
        If the file is missing, unreadable, corrupt or has 32-bit / float pixels.
    """
    if not path.is_file():
        raise DataError(f"{what} not found: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            arr = _pixels(im, path, what)
    except DataError:
        raise
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read {what} {path}: {err}") from err
    return np.array(arr, copy=True)
