"""Subcommands of the ``swalp`` command line (see :mod:`swalp.cli`)."""
