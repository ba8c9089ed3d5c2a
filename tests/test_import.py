"""`import sparsity` must not import cupy or torch (heavy, optional backends)."""

from __future__ import annotations

import subprocess
import sys


def test_import_does_not_pull_heavy_backends():
    code = (
        "import sys, sparsity\n"
        "bad = [m for m in ('cupy', 'torch', 'powerlaw', 'weightwatcher') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"import sparsity imported: {out.stdout.strip()}"
