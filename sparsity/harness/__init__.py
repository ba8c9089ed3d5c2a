"""The benchmark harness: suites (TOML) -> cases -> rows, executors, the report and the catalog of real weights.

It runs without the command line; the math never imports it.

Public modules:

- ``suite`` (load and validate suite files), ``cases`` (one case -> rows), ``runner`` (resume, execute, write
  a suite run), ``analysis`` (checkpoint analysis as a resumable job), ``studies``, ``training`` and
  ``quantization`` (study suites), ``executors`` (in-process, process pool, Dask), ``report`` (summary, tables,
  figures), ``columns`` (the documented columns), ``catalog`` (offline real-weight sources).

Private modules, by concern: the job machinery (``_job``, ``_executor``, ``_dask``, ``_signals``, ``_manifest``,
``_failures``, ``_checkpoints``), agreement and replicates (``_agreement``, ``_tail_bootstrap``, ``_case_tail``,
``_summary``), output (``_io``, ``_tables``, ``_figures``, ``_layer_figures``, ``_layers_report``), studies
(``_study_*``, ``_train_*``, ``_quant_*``) and ``_shipped`` (data shipped in the wheel).
"""

__all__: list[str] = []
