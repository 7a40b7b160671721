"""The command line: ``python -m firstneuron.data list|describe|export``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .builtin import DATASETS, load_dataset
from .errors import DataError
from .folder import export_image_folder, load_image_folder
from .summary import summarize


def _parser():
    """The argument parser of ``python -m firstneuron.data``.

    Returns
    -------
    argparse.ArgumentParser
        Subcommands ``list`` (the default), ``describe`` and ``export``.
    """
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
                print(summarize(load_image_folder(folder), name=str(folder)))
            else:
                dataset = load_dataset(args.name)
                print(summarize(dataset, name=f"{args.name} ({DATASETS[args.name].description})"))
        elif args.command == "export":
            folder = export_image_folder(load_dataset(args.name), args.dir.resolve())
            print(f"wrote data set {args.name!r} to {folder}")
    except (DataError, OSError) as err:
        message = " ".join(str(err).split("\n"))
        print(f"error: {message}", file=sys.stderr)
        return 2
    return 0
