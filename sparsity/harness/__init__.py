"""The benchmark harness: suites (TOML) -> cases -> rows, the runner, the report and the catalog of real weights.

It runs without the command line; the math never imports it.

Modules: ``suite`` (load and validate suite files), ``cases`` (one case -> rows), ``runner`` (resume, execute,
write), ``report`` (tables and figures), ``catalog`` (offline real-weight sources).
"""

__all__: list[str] = []
