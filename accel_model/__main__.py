"""``python -m accel_model`` runs the ``accel-model`` command line."""

from accel_model.cli import main

raise SystemExit(main())
