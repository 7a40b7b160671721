"""Summarise a data set as text: counts, image shape, channels, class balance.

Not to be confused with :func:`firstneuron.testing.describe`, which names the
type of one value for an assertion message.
"""

from __future__ import annotations

import numpy as np

from .validate import check_dataset


def summarize(dataset, name=None):
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
    train_x, train_y, test_x, test_y, classes = check_dataset(dataset)
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
