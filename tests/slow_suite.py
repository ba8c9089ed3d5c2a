"""A suite whose cases take about a second each (a 150000-value Hill fit): a run of 8 on 2 workers is still going
when the first case is saved, so tests can stop, kill or lose executors mid-run (test_dask, test_signals)."""

SLOW = """
name = "slow"
seed = 3
[[groups]]
name = "p"
source = "synthetic"
generator = "pareto"
params = { alpha = [0.7, 1.2, 1.7, 2.2, 2.7, 3.2, 3.5, 3.9] }
sizes = [150000]
estimators = ["hill"]
"""
