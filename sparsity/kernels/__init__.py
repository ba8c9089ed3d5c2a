"""CuPy raw kernels, each beside the NumPy twin it is tested against.

Importing this package never imports cupy."""

from sparsity.kernels.ks_scan import ks_scan, ks_scan_cupy, ks_scan_numpy, ks_window_numpy

__all__ = ["ks_scan", "ks_scan_cupy", "ks_scan_numpy", "ks_window_numpy"]
