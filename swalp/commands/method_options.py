"""Command-line flags of the methods' options (:attr:`swalp.methods.Method.options`), shared by
``swalp train`` and ``swalp sweep``: one flag per option of the registry, so a new method's
options appear on both commands without touching them."""

from __future__ import annotations

import argparse
from typing import Any

from swalp.methods import all_options, methods_taking


def add_method_option_arguments(parser: argparse.ArgumentParser) -> None:
    """A flag per method option (default: unset, so the method's default applies) and
    ``--log-every``."""
    group = parser.add_argument_group("method options (each applies to the methods named)")
    for option in all_options().values():
        group.add_argument(option.flag, dest=f"option_{option.name}", type=option.parse,
                           help=f"{option.describe()} (methods {', '.join(methods_taking(option.name))})")
    parser.add_argument("--log-every", type=int,
                        help="a per-step row (loss; distance to the optimum on convex tasks) in the record's "
                             "'steps' every N optimizer steps (default: none)")


def method_options_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The method options the command line sets, by name."""
    return {name: getattr(args, f"option_{name}") for name in all_options()
            if getattr(args, f"option_{name}", None) is not None}
