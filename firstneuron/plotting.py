"""Small plotting helpers for the First Neuron notebooks (matplotlib).

None of these functions calls ``plt.show()``: in a notebook the figure is
displayed automatically; in a script call ``plt.show()`` yourself.
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["draw_computation_graph", "draw_neuron", "plot_costs", "plot_function", "show_examples"]

MAX_FIG_WIDTH = 8.0  # inches


def show_examples(images, labels, classes, n=8, ncols=8, seed=None, ax_size=1.2):
    """Show a small grid of example images titled with their class name.

    Parameters
    ----------
    images : ndarray of shape (m, height, width, channels), dtype uint8
        Images; channels is 1 (shown in grey, 0 = black, 255 = white) or 3 (RGB).
    labels : ndarray of shape (1, m) or (m,)
        Labels 0 or 1.
    classes : sequence of two str
        ``(name of class 0, name of class 1)``.
    n : int, default 8
        Number of images to show (at most m).
    ncols : int, default 8
        Number of images per row.
    seed : int, optional
        If None, show the first ``n`` images; otherwise ``n`` images picked
        at random with ``np.random.default_rng(seed)`` (the global NumPy
        random state is not touched).
    ax_size : float, default 1.2
        Size of one image in inches; reduced so the figure is at most
        8 inches wide.

    Returns
    -------
    matplotlib.figure.Figure
        The figure, with one Axes per image.
    """
    images = np.asarray(images)
    labels = np.asarray(labels).ravel()
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must have shape (m, height, width, 1 or 3), found {images.shape}"
        )
    m = images.shape[0]
    if labels.shape[0] != m:
        raise ValueError(f"{m} images but {labels.shape[0]} labels")
    if len(classes) != 2:
        raise ValueError(f"classes must hold two names, found {len(classes)}")
    n = min(int(n), m)
    if n < 1 or ncols < 1:
        raise ValueError("n and ncols must be at least 1 and there must be images")

    if seed is None:
        idx = np.arange(n)
    else:
        idx = np.sort(np.random.default_rng(seed).choice(m, size=n, replace=False))

    cols = min(int(ncols), n)
    rows = math.ceil(n / cols)
    size = min(float(ax_size), MAX_FIG_WIDTH / cols)
    fig = plt.figure(figsize=(cols * size, rows * size * 1.2))
    for k, i in enumerate(idx):
        ax = fig.add_subplot(rows, cols, k + 1)
        img = images[i]
        if img.shape[-1] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", vmin=0, vmax=255)
        else:
            ax.imshow(img)
        ax.set_title(str(classes[int(labels[i])]), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def plot_function(f, lo=-10, hi=10, num=201, ax=None, label=None):
    """Plot ``y = f(z)`` for ``num`` values of z evenly spaced over [lo, hi].

    Parameters
    ----------
    f : callable
        Function of a NumPy array z of shape (num,); if it only accepts
        numbers it is called once per value.
    lo, hi : float, default -10, 10
        Interval of z.
    num : int, default 201
        Number of points.
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new small figure if None.
    label : str, optional
        Legend entry for the curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    if not hi > lo:
        raise ValueError(f"need lo < hi, found lo={lo}, hi={hi}")
    z = np.linspace(lo, hi, int(num))
    try:
        y = np.asarray(f(z), dtype=float)
    except (TypeError, ValueError):
        y = None
    if y is None or y.shape != z.shape:
        y = np.array([f(v) for v in z], dtype=float)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 2.5))
    ax.plot(z, y, label=label)
    ax.grid(True)
    ax.set_xlabel("z")
    name = getattr(f, "__name__", "f")
    ax.set_ylabel(f"{name}(z)" if name.isidentifier() and name != "<lambda>" else "f(z)")
    if label is not None:
        ax.legend()
    return ax


def plot_costs(costs, learning_rate=None, ax=None, label=None):
    """Plot a learning curve: the cost recorded every hundred iterations.

    Parameters
    ----------
    costs : array-like of shape (k,)
        Costs recorded every 100 iterations.
    learning_rate : float, optional
        Shown in the title when given.
    ax : matplotlib.axes.Axes, optional
        Where to draw (e.g. to compare learning rates); a new small figure
        if None.
    label : str, optional
        Legend entry for the curve.

    Returns
    -------
    matplotlib.axes.Axes
    """
    costs = np.asarray(costs, dtype=float).ravel()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.5, 2.5))
    ax.plot(np.arange(costs.size), costs, label=label)
    ax.set_xlabel("iterations (per hundreds)")
    ax.set_ylabel("cost")
    ax.grid(True)
    if learning_rate is not None:
        ax.set_title(f"learning rate = {learning_rate}")
    if label is not None:
        ax.legend()
    return ax


def _diagram_axes(ax, figsize, height):
    """Axes for a diagram: `ax`, or a new figure of `figsize`; coordinates 0-10 across, 0-`height` up, no axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    ax.set_xlim(0, 10)
    ax.set_ylim(0, height)
    ax.set_axis_off()
    return ax


def draw_neuron(ax=None):
    """Draw one neuron: pixels x_j, weights w_j, the sum z = w x + b, the sigmoid, the output a.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new small figure if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _diagram_axes(ax, figsize=(7, 2.6), height=4.5)
    box = dict(boxstyle="round,pad=0.35", facecolor="white", edgecolor="black")
    centre = (5.2, 2.0)
    ax.text(0.1, 4.4, "pixels of one image", ha="left", va="top", fontsize=8)
    ax.text(3.3, 4.4, "one weight per pixel", ha="left", va="top", fontsize=8, color="tab:blue")
    for j, y in [("1", 3.5), ("2", 2.6), ("3", 1.7), ("{n_x}", 0.4)]:
        ax.text(0.6, y, f"$x_{j}$", ha="center", va="center", fontsize=10, bbox=box)
        ax.annotate("", xy=centre, xytext=(0.95, y),
                    arrowprops=dict(arrowstyle="->", color="grey", shrinkA=2, shrinkB=22))
        ax.text(2.6, y + (centre[1] - y) * 0.42 + 0.1, f"$w_{j}$", fontsize=9, color="tab:blue",
                ha="center")
    ax.text(0.6, 1.05, r"$\vdots$", ha="center", va="center", fontsize=11)
    ax.text(*centre, r"$\Sigma + b$", ha="center", va="center", fontsize=11,
            bbox=dict(boxstyle="circle,pad=0.4", facecolor="#eef", edgecolor="black"))
    ax.text(centre[0], 0.75, r"$z = w_1 x_1 + \cdots + w_{n_x} x_{n_x} + b$", ha="center",
            va="center", fontsize=8)
    ax.annotate("", xy=(7.3, 2.0), xytext=(5.9, 2.0), arrowprops=dict(arrowstyle="->"))
    ax.text(6.6, 2.2, "$z$", ha="center", va="bottom", fontsize=10)
    ax.text(7.7, 2.0, r"$\sigma$", ha="center", va="center", fontsize=12, bbox=box)
    ax.annotate("", xy=(8.6, 2.0), xytext=(8.05, 2.0), arrowprops=dict(arrowstyle="->"))
    ax.text(8.65, 2.0, r"$a = \sigma(z)$", ha="left", va="center", fontsize=10)
    ax.text(8.65, 1.45, "P(face | image)", ha="left", va="center", fontsize=8)
    return ax


def draw_computation_graph(ax=None):
    """Draw the computation graph of one example, with the local derivatives and the backward pass.

    The forward pass goes x, w, b -> z = w x + b -> a = sigma(z) -> L(a, y) (black arrows);
    each red label is the local derivative of the box at an arrow's head with respect to the
    box at its tail; the blue arrow is the backward pass, dL/dz = (dL/da)(da/dz) = a - y.

    Parameters
    ----------
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure of 8 x 3 inches if None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _diagram_axes(ax, figsize=(8, 3), height=3.3)
    box = dict(boxstyle="round,pad=0.4", facecolor="lightyellow", edgecolor="black")
    for x, y, text in [(0.5, 2.5, "$x$"), (0.5, 1.5, "$w$"), (0.5, 0.5, "$b$"),
                       (3.4, 1.5, "$z = wx + b$"), (5.9, 1.5, r"$a = \sigma(z)$"),
                       (9.2, 1.5, r"$\mathcal{L}(a, y)$"), (9.2, 0.3, "$y$")]:
        ax.text(x, y, text, ha="center", va="center", fontsize=12, bbox=box)
    for start, end in [((0.8, 2.4), (2.5, 1.7)), ((0.8, 1.5), (2.5, 1.5)), ((0.8, 0.6), (2.5, 1.3)),
                       ((4.3, 1.5), (5.1, 1.5)), ((6.7, 1.5), (8.5, 1.5)), ((9.2, 0.55), (9.2, 1.2))]:
        ax.annotate("", xy=end, xytext=start, arrowprops=dict(arrowstyle="->", color="black"))
    red = dict(color="firebrick", fontsize=11, ha="center")
    ax.text(1.6, 1.6, r"$\partial z / \partial w_j = x_j$", **red)
    ax.text(1.9, 0.55, r"$\partial z / \partial b = 1$", **red)
    ax.text(4.7, 1.75, r"$\partial a / \partial z$" "\n" r"$= a(1 - a)$", **red)
    ax.text(7.6, 1.75, r"$\partial \mathcal{L} / \partial a =$" "\n" r"$-y/a + (1 - y)/(1 - a)$", **red)
    # The backward pass: multiply the local derivatives from the loss back to z.
    ax.annotate("", xy=(3.4, 2.85), xytext=(9.2, 2.85),
                arrowprops=dict(arrowstyle="->", color="royalblue", linestyle="--"))
    ax.text(6.3, 2.95, r"backward: $\partial \mathcal{L} / \partial z = "
            r"(\partial \mathcal{L} / \partial a)(\partial a / \partial z) = a - y$",
            color="royalblue", fontsize=11, ha="center")
    return ax
