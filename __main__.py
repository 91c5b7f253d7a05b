"""``python -m csi_coach``: the same command line as ``csi-coach``."""

from csi_coach.bot import main

raise SystemExit(main())
