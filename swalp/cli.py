"""``swalp`` command line: one subcommand per module of :mod:`swalp.commands`.

Each module exposes ``register(subparsers) -> None``, which adds its parser and sets
``func`` (called with the parsed arguments; returns the exit status).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from swalp.runio.lock import FolderBusyError

#: Subcommand modules under ``swalp.commands``, in ``--help`` order. Modules that are not
#: installed yet are skipped (the CLI works without them).
COMMANDS = ("demo", "train", "formats", "sweep", "plot", "diagnet", "lr", "lrbench")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="swalp",
        description="Low-precision training (SWALP) with accuracy and accelerator cost reported together.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module_name = f"swalp.commands.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``swalp`` command line; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, FolderBusyError) as err:
        print(f"swalp {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
