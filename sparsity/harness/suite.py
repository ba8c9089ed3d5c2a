"""Benchmark suites: TOML files -> validated :class:`Suite` -> a deterministic list of :class:`Task`.

A suite file (``bench/suites/*.toml``) has top-level ``name``, ``description``, ``seed`` and a list of case
groups ``[[groups]]``. Each group has

``name``
    Unique group name (part of every case id).
``source``
    ``"synthetic"`` (a generator with a parameter grid), ``"catalog"`` (an entry of datasets/catalog.toml) or
    ``"path"`` (a weight file or directory).
``generator``, ``params``
    Synthetic only. ``params`` maps parameter names to a value or a list of values; lists are expanded as a
    grid (in file order).
``sizes`` / ``shapes``
    Vector generators take ``sizes = [n, ...]``; matrix generators ``shapes = [[n, m], ...]``.
``replicates``
    Independent draws per grid point (default 1).
``basis``
    ``"entries"`` (magnitudes of all values) and/or ``"spectrum"`` (singular values; matrices only).
``estimators``
    Tail estimators of :func:`sparsity.fit_tail` (default ``["csn"]``), or a table keyed by basis
    (``{ spectrum = ["csn"], entries = ["hill"] }``); ``estimator_options`` maps a method to its options.
``entry`` / ``path``, ``optional``, ``max_tensors``
    Real weights: the catalog entry or path; ``optional = true`` skips the group (with a note in the
    manifest) when the entry is not installed; ``max_tensors`` caps the tensors analysed per file.

Groups with ``source = "training"`` or ``"quantization"`` are studies (:mod:`sparsity.harness._study_groups`
lists their keys): each case of the study is one task (its ``params`` hold ``{"case": ..., "config": ...}``),
run by :mod:`sparsity.harness.studies`. A suite's groups are either all studies of one kind or all case groups;
an optional study group whose package or catalog model is missing is skipped with a note.

Every task's random seed is derived from the suite seed and the task id alone (``numpy.random.SeedSequence``),
so results do not depend on the number of workers or the order in which tasks run.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sparsity._checks import check_choice, check_int, check_real
from sparsity.harness import catalog
from sparsity.harness._shipped import shipped_dir
from sparsity.harness._study_groups import STUDY_GROUP_KEYS, StudyGroupError, study_group_cases, training_config
from sparsity.tails import METHODS

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = ["GENERATORS", "SUITES_DIR", "Generator", "Suite", "SuiteError", "Task", "load_suite", "suite_names"]

#: Directory of the shipped suites (``bench/suites`` in the source tree, ``sparsity.shipped_suites`` in a wheel).
SUITES_DIR = shipped_dir("bench/suites", "sparsity.shipped_suites")

_SUITE_KEYS = {"name", "description", "seed", "groups"}
_GROUP_KEYS = {
    "synthetic": {
        "name",
        "source",
        "generator",
        "params",
        "sizes",
        "shapes",
        "replicates",
        "basis",
        "estimators",
        "estimator_options",
    },
    "catalog": {"name", "source", "entry", "basis", "estimators", "estimator_options", "optional", "max_tensors"},
    "path": {"name", "source", "path", "basis", "estimators", "estimator_options", "optional", "max_tensors"},
    **STUDY_GROUP_KEYS,
}
_BASES = ("entries", "spectrum")
_INF = math.inf


class SuiteError(ValueError):
    """A suite file that cannot be run; the message names the file, the key, the rule and the value."""


@dataclass(frozen=True)
class Generator:
    """A synthetic source: how to call it, its parameters, and the tail index it is known to have.

    ``true_alpha(params, basis)`` returns the survival tail index of the magnitudes of the basis
    (``inf`` for a light tail, ``nan`` when not known in closed form).
    """

    kind: str  # "vector" or "matrix"
    required: tuple[str, ...]
    optional: tuple[str, ...]
    true_alpha: Callable[[dict[str, Any], str], float]
    family: str


def _const(value: float) -> Callable[[dict[str, Any], str], float]:
    return lambda params, basis: value


GENERATORS: dict[str, Generator] = {
    "pareto": Generator("vector", ("alpha",), ("xmin",), lambda p, b: float(p["alpha"]), "pareto"),
    "stable": Generator(
        "vector",
        ("alpha",),
        ("beta", "scale"),
        lambda p, b: float(p["alpha"]) if p["alpha"] < 2 else _INF,
        "stable",
    ),
    "student_t": Generator("vector", ("df",), (), lambda p, b: float(p["df"]), "student_t"),
    "gaussian": Generator("vector", (), (), _const(_INF), "gaussian"),
    "laplace": Generator("vector", (), (), _const(_INF), "laplace"),
    "generalized_gaussian": Generator("vector", ("shape",), (), _const(_INF), "generalized_gaussian"),
    "lognormal": Generator("vector", (), ("sigma",), _const(_INF), "lognormal"),
    "gaussian_matrix": Generator("matrix", (), (), _const(_INF), "marchenko_pastur"),
    # Entries of a Levy matrix have tail index alpha (Martin & Mahoney's mu); for alpha < 2 its largest singular
    # values inherit it (their heavy-tailed universality class); for alpha >= 2 the finite-size spectrum has no
    # closed-form tail index.
    "levy_matrix": Generator(
        "matrix",
        ("alpha",),
        (),
        lambda p, b: float(p["alpha"]) if b == "entries" or p["alpha"] < 2 else math.nan,
        "levy",
    ),
    "spiked_matrix": Generator("matrix", ("theta",), ("rank",), _const(_INF), "spiked"),
    # A prescribed power-law spectrum rotated by Haar factors: singular values with the given tail index;
    # its entries have no closed-form tail index.
    "power_law_spectrum": Generator(
        "matrix",
        ("sv_tail_index",),
        ("scale",),
        lambda p, b: float(p["sv_tail_index"]) if b == "spectrum" else math.nan,
        "power_law_spectrum",
    ),
}


@dataclass(frozen=True)
class Task:
    """One unit of work: one synthetic draw or one weight file, analysed in every basis and estimator."""

    task_id: str
    group: str
    source: str
    generator: str | None
    params: dict[str, Any]
    shape: tuple[int, ...] | None
    replicate: int
    basis: tuple[str, ...]
    estimators: dict[str, tuple[str, ...]]
    estimator_options: dict[str, dict[str, Any]]
    location: str | None = None
    max_tensors: int | None = None

    def seed(self, root_seed: int) -> list[int]:
        """Entropy for ``numpy.random.SeedSequence``: the suite seed and a stable hash of the task id."""
        return [int(root_seed), zlib.crc32(self.task_id.encode())]


@dataclass
class Suite:
    """A validated suite: its tasks in file order, the source file and its hash."""

    name: str
    description: str
    seed: int
    tasks: list[Task]
    path: Path | None = None
    sha256: str = ""
    skipped_groups: list[str] = field(default_factory=list)
    study: str | None = None
    """``"training"`` or ``"quantization"`` when the groups are studies (run by :mod:`sparsity.harness.studies`)."""


def suite_names() -> list[str]:
    """Names of the suites shipped in ``bench/suites``."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.toml"))


def _fail(where: str, message: str) -> SuiteError:
    return SuiteError(f"{where}: {message}")


def _check_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _fail(where, f"unknown key {unknown[0]!r}; allowed keys are {', '.join(sorted(allowed))}")


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _checked(where: str, check: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a check of :mod:`sparsity._checks`; its error becomes a :class:`SuiteError` naming the file and group."""
    try:
        return check(*args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise _fail(where, str(exc)) from None


def _positive_int(value: Any, where: str, key: str) -> int:
    return int(_checked(where, check_int, value, key, low=1))


def _group_common(group: dict[str, Any], where: str) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], dict]:
    basis = tuple(_as_list(group.get("basis", ["entries"])))
    for b in basis:
        _checked(where, check_choice, b, "basis", _BASES)
    raw = group.get("estimators", ["csn"])
    if isinstance(raw, dict):
        extra = sorted(set(raw) - set(basis))
        if extra:
            raise _fail(where, f"estimators is keyed by basis ({', '.join(basis)}); got key {extra[0]!r}")
        missing = [b for b in basis if b not in raw]
        if missing:
            raise _fail(where, f"estimators has no list for basis {missing[0]!r}")
        estimators = {b: tuple(_as_list(raw[b])) for b in basis}
    else:
        estimators = {b: tuple(_as_list(raw)) for b in basis}
    listed = {e for ests in estimators.values() for e in ests}
    for ests in estimators.values():
        if not ests:
            raise _fail(where, "estimators must list at least one estimator")
        for e in ests:
            _checked(where, check_choice, e, "estimators", tuple(METHODS))
    options = group.get("estimator_options", {})
    if not isinstance(options, dict) or any(k not in listed or not isinstance(v, dict) for k, v in options.items()):
        raise _fail(where, f"estimator_options must map listed estimators to tables of options; got {options!r}")
    return basis, estimators, options


def _synthetic_tasks(group: dict[str, Any], where: str) -> list[Task]:
    name = group.get("generator")
    if name not in GENERATORS:
        raise _fail(where, f"unknown generator {name!r}; known generators are {', '.join(GENERATORS)}")
    gen = GENERATORS[name]
    params = group.get("params", {})
    if not isinstance(params, dict):
        raise _fail(where, f"params must be a table; got {params!r}")
    for key in gen.required:
        if key not in params:
            raise _fail(where, f"generator {name!r} needs parameter {key!r}")
    for key, values in params.items():
        if key not in gen.required + gen.optional:
            allowed = ", ".join(gen.required + gen.optional) or "none"
            raise _fail(where, f"generator {name!r} has no parameter {key!r}; its parameters are {allowed}")
        # Every parameter is a finite number > 0, except the stable law's skewness beta in [-1, 1].
        bounds: dict[str, Any] = {"low": -1, "high": 1} if key == "beta" else {"low": 0, "closed": "neither"}
        for v in _as_list(values):
            _checked(where, check_real, v, f"parameter {key!r}", **bounds)
    basis, estimators, options = _group_common(group, where)
    if gen.kind == "vector":
        if "shapes" in group or "spectrum" in basis:
            raise _fail(where, f"vector generator {name!r} takes sizes (not shapes) and basis 'entries' only")
        shapes: list[tuple[int, ...]] = [(_positive_int(n, where, "sizes"),) for n in _as_list(group.get("sizes", []))]
        if not shapes:
            raise _fail(where, "sizes must list at least one vector length")
    else:
        if "sizes" in group:
            raise _fail(where, f"matrix generator {name!r} takes shapes = [[n, m], ...], not sizes")
        raw = group.get("shapes", [])
        if not raw or not all(isinstance(s, list) and len(s) == 2 for s in raw):
            raise _fail(where, f"shapes must be a list of [n, m] pairs; got {raw!r}")
        shapes = [(_positive_int(s[0], where, "shapes"), _positive_int(s[1], where, "shapes")) for s in raw]
    reps = _positive_int(group.get("replicates", 1), where, "replicates")
    keys = list(params)
    grid = list(itertools.product(*(_as_list(params[k]) for k in keys))) if keys else [()]
    tasks = []
    for point in grid:
        pdict = dict(zip(keys, point, strict=True))
        label = ",".join(f"{k}={v:g}" for k, v in pdict.items()) or "default"
        for shape in shapes:
            for rep in range(reps):
                tid = f"{group['name']}/{name}/{label}/{'x'.join(map(str, shape))}/r{rep}"
                tasks.append(Task(tid, group["name"], "synthetic", name, pdict, shape, rep, basis, estimators, options))
    return tasks


def _weights_tasks(group: dict[str, Any], where: str, skipped: list[str]) -> list[Task]:
    source = group["source"]
    basis, estimators, options = _group_common(group, where)
    max_tensors = group.get("max_tensors")
    if max_tensors is not None:
        _positive_int(max_tensors, where, "max_tensors")
    optional = bool(group.get("optional", False))
    if source == "catalog":
        entry_name = group.get("entry")
        try:
            entry = catalog.find_entry(str(entry_name))
        except (KeyError, ValueError) as exc:
            raise _fail(where, f"unknown catalog entry {entry_name!r} ({exc})") from None
        state, path = catalog.status(entry)
        if state != "installed" or path is None:
            if optional:
                skipped.append(
                    f"{group['name']}: catalog entry {entry.name} is {state} "
                    f"(sparsity-bench datasets --install {entry.name})"
                )
                return []
            raise _fail(
                where,
                f"catalog entry {entry.name!r} is {state}; run `sparsity-bench datasets --install "
                f"{entry.name}` or mark the group optional = true",
            )
        location, label = str(path), entry.name
    else:
        raw = group.get("path")
        if not isinstance(raw, str):
            raise _fail(where, f"path must be a string; got {raw!r}")
        p = Path(raw).expanduser()
        if not p.exists():
            if optional:
                skipped.append(f"{group['name']}: {p} does not exist")
                return []
            raise _fail(where, f"path {str(p)!r} does not exist")
        location, label = str(p.resolve()), p.name
    tid = f"{group['name']}/{label}"
    return [Task(tid, group["name"], source, None, {}, None, 0, basis, estimators, options, location, max_tensors)]


def _study_tasks(group: dict[str, Any], where: str, seed: int, skipped: list[str]) -> list[Task]:
    """One task per case of a study group; none (and a note) for an optional group that cannot run here."""
    try:
        cases, reason = study_group_cases(group, seed)
        config = training_config(group, seed) if group["source"] == "training" else {}
    except StudyGroupError as exc:
        raise _fail(where, str(exc)) from None
    if reason is not None:
        if group.get("optional", False):
            skipped.append(f"{group['name']}: {reason}")
            return []
        raise _fail(where, f"{reason}; or mark the group optional = true")
    source, name = group["source"], group["name"]
    return [
        Task(f"{name}/{c['case_id']}", name, source, None, {"case": c, "config": config}, None,
             int(c.get("replicate", 0)), (), {}, {})
        for c in cases
    ]  # fmt: skip


def load_suite(name_or_path: str | Path) -> Suite:
    """Read, validate and expand a suite given by name (``bench/suites/NAME.toml``) or by file path.

    Raises
    ------
    SuiteError
        With one line naming the file, the group and key, the rule and the value received.
    """
    path = Path(name_or_path)
    if not path.suffix and not path.is_file():  # a name (even if a directory of that name is in the way)
        path = SUITES_DIR / f"{name_or_path}.toml"
    if not path.is_file():
        known = ", ".join(suite_names())
        raise SuiteError(
            f"suite {str(name_or_path)!r} not found: not a file and not one of the shipped suites ({known})"
        )
    raw_bytes = path.read_bytes()
    try:
        data = tomllib.loads(raw_bytes.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SuiteError(f"{path}: not valid TOML ({exc})") from None
    _check_keys(data, _SUITE_KEYS, str(path))
    seed = _checked(str(path), check_int, data.get("seed", 0), "seed", low=0)
    groups = data.get("groups")
    if not isinstance(groups, list) or not groups:
        raise _fail(str(path), "a suite needs at least one [[groups]] table")
    tasks: list[Task] = []
    skipped: list[str] = []
    names: set[str] = set()
    study: str | None = None
    for i, group in enumerate(groups):
        where = f"{path}: groups[{i}]"
        gname = group.get("name")
        if not isinstance(gname, str) or not gname or "/" in gname:
            raise _fail(where, f"name must be a non-empty string without '/'; got {gname!r}")
        if gname in names:
            raise _fail(where, f"group name {gname!r} is used twice")
        names.add(gname)
        where = f"{path}: group {gname!r}"
        source = group.get("source")
        if source not in _GROUP_KEYS:
            raise _fail(where, f"source must be one of {', '.join(_GROUP_KEYS)}; got {source!r}")
        _check_keys(group, _GROUP_KEYS[source], where)
        kind = source if source in STUDY_GROUP_KEYS else None
        if i > 0 and kind != study:
            raise _fail(where, f"source {source!r} cannot be mixed with the sources of the groups before it "
                        "(a suite is all study groups of one kind or all case groups)")  # fmt: skip
        study = kind
        if kind is not None:
            tasks.extend(_study_tasks(group, where, int(seed), skipped))
        elif source == "synthetic":
            tasks.extend(_synthetic_tasks(group, where))
        else:
            tasks.extend(_weights_tasks(group, where, skipped))
    digest = hashlib.sha256(raw_bytes).hexdigest()
    return Suite(
        str(data.get("name", path.stem)),
        str(data.get("description", "")),
        int(seed),
        tasks,
        path,
        digest,
        skipped,
        study,
    )


def params_json(params: dict[str, Any]) -> str:
    """Canonical JSON of a parameter point (for the results table)."""
    return json.dumps(params, sort_keys=True)
