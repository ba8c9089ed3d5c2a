"""The benchmark harness: suites (TOML) -> cases -> rows, the runner (pool, resume), the report and the catalog
of real weights. Runs without the command line; the math never imports it.

Modules: ``suite`` (load and validate suite files), ``cases`` (one case -> rows), ``runner`` (execute, resume,
write), ``report`` (tables and figures), ``catalog`` (offline real-weight sources).
"""
