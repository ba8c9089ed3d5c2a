"""``python -m sparsity.cli``: the ``sparsity-bench`` command."""

import sys

from sparsity.cli import main

sys.exit(main())
