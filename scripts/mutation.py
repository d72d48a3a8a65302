"""Mutation testing of theory/ and numerics/ with mutmut 3, one module at a time (not in CI).

``make mutation MODULE=theory/laplace.py [SAMPLE=200]`` runs
``python scripts/mutation.py theory/laplace.py --sample 200``:

1. copies the working tree (git-tracked and untracked-but-not-ignored files) to a scratch directory
   (``$MUTATION_WORKDIR``, default ``/tmp/sgd-mutation/<module>``) — the checkout is never mutated;
2. writes a ``[tool.mutmut]`` section there so that only MODULE is mutated and only the tests that
   mirror it run (``tests/<package>/test_<name>.py`` and ``test_<name>_<topic>.py``; ``--tests``
   overrides);
3. generates the mutants (``mutmut run`` with a filter that matches none: generation and the
   per-test coverage stats only) and classifies each one from the AST of the mutated function:
   a change that lies inside a ``raise`` statement only alters the error message, so it is
   *equivalent by rule* and is not run; mutants listed in ``benchmarks/mutation_equivalent.json``
   (module → mutant name → {"change", "reason"}) are equivalent by review (the entry is ignored,
   with a warning, when the mutant's change no longer matches);
4. runs the rest — all of them, or with ``--sample N`` a deterministic sample of N (every k-th in
   (function, number) order) — with ``mutmut run NAMES`` (fork-server isolation, so no worker
   inherits an ``lru_cache`` a clean run filled);
5. re-runs each survivor against the whole mirrored test files (``MUTANT_UNDER_TEST`` set):
   mutmut runs per mutant only the tests it saw calling the function, which misses tests that use
   a result cached in a module-scoped fixture; those kills are counted as ``killed`` and
   ``killed_by_confirmation`` (``--no-confirm`` skips this);
6. merges counts, score ``killed / (run − equivalent by review)`` (timeouts count as killed: the
   mutant made a test hang) and every survivor with its change into
   ``benchmarks/results/mutation.json`` under ``modules[MODULE][LABEL]``.
"""
from __future__ import annotations

import argparse
import ast
import datetime as _dt
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "mutation.json"
EQUIVALENT = ROOT / "benchmarks" / "mutation_equivalent.json"
STATUS = {0: "survived", 1: "killed", 3: "killed", 5: "no_tests", 33: "no_tests", 34: "skipped",
          36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout", 255: "timeout",
          37: "type_check", None: "not_checked", -11: "segfault", -9: "segfault"}
DETECTED = {"killed", "timeout", "segfault"}


def mirrored_tests(module: str) -> list[str]:
    """``tests/<pkg>/test_<name>.py`` and ``test_<name>_<topic>.py`` — unless ``<pkg>/<name>_<topic>.py``
    is itself a module (``test_stationary_2d.py`` mirrors ``stationary_2d.py``, not ``stationary.py``)."""
    p = Path(module)
    tdir = Path("tests") / p.parent
    out = []
    for t in sorted((ROOT / tdir).glob(f"test_{p.stem}*.py")):
        rest = t.stem[len("test_"):]
        if rest == p.stem or (rest.startswith(p.stem + "_") and not (ROOT / p.parent / f"{rest}.py").exists()):
            out.append(str(tdir / t.name))
    if not out:
        raise SystemExit(f"no mirrored test file tests/{p.parent}/test_{p.stem}.py for {module}; pass --tests")
    return out


def copy_tree(dst: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           check=True, capture_output=True).stdout.decode().split("\0")
    if dst.exists():
        shutil.rmtree(dst)
    for f in filter(None, files):
        src = ROOT / f
        if src.is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / f)


def write_config(work: Path, module: str, tests: list[str]) -> None:
    py = work / "pyproject.toml"
    # drop the checkout's [tool.mutmut] table (up to the next table header)
    text = re.sub(r"\n\[tool\.mutmut\]\n(?:(?!\[).*(?:\n|$))*", "\n", py.read_text())
    cfg = {
        "source_paths": ["theory", "numerics"],
        "only_mutate": [module],
        "also_copy": ["validation", "notebooks", "scripts", "benchmarks"],
        "pytest_add_cli_args": ["-p", "no:cacheprovider", "-p", "no:xdist", "-W", "ignore"],
        "pytest_add_cli_args_test_selection": tests,
        "process_isolation": "forkserver",
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in cfg.items()]
    py.write_text(text.rstrip() + "\n" + "\n".join(lines) + "\n")


def mutmut(work: Path, *args: str, quiet: bool = False) -> int:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.DEVNULL if quiet else None
    return subprocess.run([sys.executable, "-m", "mutmut", *args], cwd=work, env=env,
                          stdout=out, stderr=out).returncode


# ---------------------------------------------------------------------------------------------
# classification of a mutant from the AST of its function
# ---------------------------------------------------------------------------------------------
_OPERATORS = (ast.operator, ast.cmpop, ast.unaryop, ast.boolop, ast.expr_context)


def _first_difference(a, b, path=()):
    """(ancestors of a, a_node, b_node) at the first place two ASTs differ, or None if equal.
    ``path`` holds (a, b) ancestor pairs; a list of different length reports its parent nodes."""
    if type(a) is not type(b):
        if isinstance(a, _OPERATORS) and path:  # an operator alone unparses to "": show its parent
            return [p[0] for p in path], path[-1][0], path[-1][1]
        return [p[0] for p in path], a, b
    if isinstance(a, ast.AST):
        for f in a._fields:
            r = _first_difference(getattr(a, f), getattr(b, f), path + ((a, b),))
            if r is not None:
                return r
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return [p[0] for p in path], path[-1][0], path[-1][1]
        for x, y in zip(a, b):
            r = _first_difference(x, y, path)
            if r is not None:
                return r
        return None
    return None if a == b else ([p[0] for p in path], path[-1][0], path[-1][1])


def _text(node) -> str:
    if node is None:
        return "∅"
    try:
        s = ast.unparse(node) if isinstance(node, ast.AST) else repr(node)
    except Exception:  # pragma: no cover - unparse of a bare context node
        s = type(node).__name__
    return s if len(s) <= 160 else s[:157] + "..."


def classify(mutated_file: Path) -> dict[str, dict]:
    """mutant key suffix ``x_func__mutmut_N`` → {"function", "in_raise", "change"}."""
    tree = ast.parse(mutated_file.read_text())
    funcs = {n.name: n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    out = {}
    for name, node in funcs.items():
        m = re.fullmatch(r"(.*)__mutmut_(\d+)", name)
        if not m or (orig := funcs.get(m.group(1) + "__mutmut_orig")) is None:
            continue
        diff = _first_difference(ast.Module(body=orig.body, type_ignores=[]),
                                 ast.Module(body=node.body, type_ignores=[]))
        if diff is None:
            diff = _first_difference(orig.args, node.args)
        path, a, b = diff if diff else ([], None, None)
        out[name] = {"function": m.group(1), "number": int(m.group(2)),
                     "in_raise": any(isinstance(n, ast.Raise) for n in path),
                     "change": f"{_text(a)}  →  {_text(b)}"}
    return out


def confirm_survivors(work: Path, names: list[str], tests: list[str], jobs: int) -> set[str]:
    """Survivors that the *whole* mirrored test files kill (``MUTANT_UNDER_TEST`` set, ``pytest -x``).

    mutmut runs, per mutant, only the tests it saw calling the mutated function; a result computed
    once in a module-scoped fixture is credited to the first test only, so the other tests that
    use it never see the mutant and it is reported as a (false) survivor."""
    from concurrent.futures import ThreadPoolExecutor

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def killed(name: str) -> bool:
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
               "-W", "ignore", *tests]
        try:
            r = subprocess.run(cmd, cwd=work / "mutants", env={**env, "MUTANT_UNDER_TEST": name},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900)
        except subprocess.TimeoutExpired:
            return False
        return r.returncode == 1

    if names:
        print(f"[mutation] confirming {len(names)} survivors against {tests}", flush=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        return {n for n, k in zip(names, ex.map(killed, names)) if k}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("module", help="e.g. theory/laplace.py")
    ap.add_argument("--tests", nargs="*", help="test files (default: the mirrored test file)")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")))
    ap.add_argument("--sample", type=int, default=0, help="run only N mutants (every k-th); 0 = all")
    ap.add_argument("--workdir", default=os.environ.get("MUTATION_WORKDIR"))
    ap.add_argument("--label", default="latest", help="key of this run in the results file")
    ap.add_argument("--no-record", action="store_true", help="do not write the results file")
    ap.add_argument("--no-confirm", action="store_true",
                    help="skip re-running survivors against the whole mirrored test files")
    ap.add_argument("--reuse", action="store_true",
                    help="reuse the mutants and results already in the work dir (no copy, no run)")
    a = ap.parse_args(argv)
    module = a.module.strip("/")
    if not (module.startswith(("theory/", "numerics/")) and module.endswith(".py")
            and (ROOT / module).is_file()):
        raise SystemExit(f"MODULE must be a .py file under theory/ or numerics/; got {a.module!r}")
    tests = a.tests or mirrored_tests(module)
    work = Path(a.workdir or f"/tmp/sgd-mutation/{module.replace('/', '_')[:-3]}")
    start = _dt.datetime.now()
    if not a.reuse:
        copy_tree(work)
        write_config(work, module, tests)
        print(f"[mutation] generating mutants of {module} in {work}", flush=True)
        mutmut(work, "run", "--max-children", str(a.jobs), "zz_generate_only_no_such_mutant*", quiet=True)
    meta_path = work / "mutants" / f"{module}.meta"
    if not meta_path.exists():
        print("mutmut generated no mutants (see `mutmut run` in the work dir)", file=sys.stderr)
        return 1
    prefix = module[:-3].replace("/", ".") + "."
    keys = sorted(json.loads(meta_path.read_text())["exit_code_by_key"])
    info = classify(work / "mutants" / module)
    reviewed = json.loads(EQUIVALENT.read_text()).get(module, {}) if EQUIVALENT.exists() else {}

    def meta_of(key):
        return info.get(key[len(prefix):], {"function": key, "number": 0, "in_raise": False, "change": "?"})

    message = [k for k in keys if meta_of(k)["in_raise"]]
    runnable = sorted((k for k in keys if not meta_of(k)["in_raise"]),
                      key=lambda k: (meta_of(k)["function"], meta_of(k)["number"]))
    chosen = runnable
    if a.sample and a.sample < len(runnable):
        step = len(runnable) / a.sample
        chosen = [runnable[int(i * step)] for i in range(a.sample)]
    print(f"[mutation] {len(keys)} mutants: {len(message)} only change an error message "
          f"(equivalent by rule, not run); running {len(chosen)} of {len(runnable)}", flush=True)
    rc = 0 if a.reuse else mutmut(work, "run", "--max-children", str(a.jobs), *chosen)
    if rc:
        print(f"mutmut run failed (exit {rc})", file=sys.stderr)
        return rc
    codes = json.loads(meta_path.read_text())["exit_code_by_key"]
    confirmed = set() if a.no_confirm else confirm_survivors(
        work, [k for k in chosen if STATUS.get(codes.get(k)) in ("survived", "no_tests")
               and reviewed.get(k, {}).get("change") != meta_of(k)["change"]], tests, a.jobs)

    counts: dict[str, int] = {}
    survivors, stale = [], []
    for key in chosen:
        status = STATUS.get(codes.get(key), "suspicious")
        if key in confirmed:
            status = "killed"
            counts["killed_by_confirmation"] = counts.get("killed_by_confirmation", 0) + 1
        change = meta_of(key)["change"]
        rev = reviewed.get(key)
        if status not in DETECTED and rev is not None:
            if rev.get("change") == change:
                status = "equivalent"
            else:
                stale.append(key)
        counts[status] = counts.get(status, 0) + 1
        if status not in DETECTED:
            entry = {"name": key, "status": status, "change": change}
            if status == "equivalent":
                entry["reason"] = rev["reason"]
            survivors.append(entry)
    detected = sum(counts.get(s, 0) for s in DETECTED)
    denom = len(chosen) - counts.get("equivalent", 0)
    result = {
        "date": start.date().isoformat(),
        "tests": tests,
        "mutants_generated": len(keys),
        "equivalent_error_message": len(message),
        "runnable": len(runnable),
        "run": len(chosen),
        "sample": a.sample if len(chosen) < len(runnable) else None,
        "counts": counts,
        "score": round(detected / denom, 4) if denom else None,
        "wall_s": round((_dt.datetime.now() - start).total_seconds(), 1),
        "not_killed": survivors,
    }
    if stale:
        print(f"[mutation] WARNING: reviewed-equivalent entries whose change no longer matches: {stale}")
    print(json.dumps({k: v for k, v in result.items() if k != "not_killed"}, indent=1, ensure_ascii=False))
    for s in survivors:
        print(f"  {s['status']:>10}  {s['name']}:  {s['change']}")
    if not a.no_record:
        data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        data.update({
            "tool": f"mutmut {metadata.version('mutmut')}",
            "command": "make mutation MODULE=<path> [SAMPLE=N]  (scripts/mutation.py)",
            "score_definition": "(killed + timeout) / (run − equivalent by review); mutants that "
                                "only change an error message are equivalent by rule and not run",
        })
        data.setdefault("modules", {}).setdefault(module, {})[a.label] = result
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        tmp.replace(RESULTS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
