"""``make gpu-check`` / ``make gpu``: the GPU campaign's dry run passes on a CPU with
only the packages the lent GPU machine has, and the whole campaign runs end to end on the CPU with
the small presets."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: what the lent GPU machine has besides the standard library (the device tool's README)
GPU_MACHINE_PACKAGES = {"torch", "sympy", "scipy", "numpy", "sklearn", "matplotlib", "mpmath", "threadpoolctl",
                        "joblib", "PIL", "packaging", "dateutil", "pyparsing", "cycler", "kiwisolver",
                        "fontTools", "contourpy", "filelock", "jinja2", "markupsafe", "networkx", "fsspec",
                        "typing_extensions"}
#: installed here (dev extras, test tools), absent there
NOT_ON_GPU_MACHINE = ("tqdm", "nbclient", "nbformat", "nbconvert", "jupytext", "mistune", "fplanck", "psutil",
                      "pytest", "backpack", "yaml", "IPython")


def _blocked_run(args, tmp_path):
    """``python -m validation ARGS`` with the packages the GPU machine lacks made unimportable: a stub
    package of each name, first on the path, raises ModuleNotFoundError when imported (a meta-path
    blocker would also break torch._dynamo, which probes module specs at import)."""
    stubs = tmp_path / "not_on_gpu_machine"
    for name in NOT_ON_GPU_MACHINE:
        (stubs / name).mkdir(parents=True, exist_ok=True)
        (stubs / name / "__init__.py").write_text(
            f"raise ModuleNotFoundError({f'No module named {name!r} (not on the GPU machine)'!r}, name={name!r})\n",
            encoding="utf-8")
    script = textwrap.dedent(f"""
        import sys
        from validation.__main__ import main
        rc = main({list(args)!r})
        leaked = sorted({{m.split(".")[0] for m in sys.modules}} & set({NOT_ON_GPU_MACHINE!r}))
        print("LEAKED", leaked)
        raise SystemExit(rc)
    """)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(stubs), str(ROOT)])}
    return subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_gpu_check_dry_run_with_only_the_gpu_machines_packages(tmp_path):
    out = tmp_path / "records"
    r = _blocked_run(["run", "--all", "--preset", "gpu", "--device", "cuda", "--out", str(out), "--budget-s", "480",
                      "--dry-run"], tmp_path)
    assert r.returncode == 0, r.stderr
    from validation.experiments import all_experiments

    for exp in all_experiments():
        assert exp.name in r.stdout, f"{exp.name} missing from the plan:\n{r.stdout}"
        assert isinstance(exp.GPU, exp.config_type)
    assert "campaign plan (budget 480 s)" in r.stdout and "admitted:" in r.stdout
    assert "LEAKED []" in r.stdout
    assert not out.exists() or not any(out.iterdir()), "a dry run wrote something"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_gpu_check_target(tmp_path):
    r = subprocess.run(["make", "-s", "gpu-check", f"GPU_PYTHON={sys.executable}", f"OUT={tmp_path / 'rec'}"],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "campaign plan" in r.stdout


def test_the_whole_campaign_runs_end_to_end_on_cpu_with_the_small_presets(tmp_path):
    """``make gpu PRESET=small DEVICE=cpu``: every experiment runs and writes its record; a second
    call finds them all done (resume) and runs nothing."""
    out = tmp_path / "records"
    r = _blocked_run(["run", "--all", "--small", "--device", "cpu", "--out", str(out), "--no-progress"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    from validation.experiments import all_experiments

    names = sorted(p.name for p in out.iterdir())
    assert len(names) == len(all_experiments()), names
    for p in out.iterdir():
        rec = json.loads(p.read_text(encoding="utf-8"))
        assert rec["metrics"] and rec["provenance"]["device"].startswith("cpu") and p.name.endswith("_cpu_small.json")
    assert "LEAKED []" in r.stdout
    again = _blocked_run(["run", "--all", "--small", "--device", "cpu", "--out", str(out), "--no-progress"], tmp_path)
    assert again.returncode == 0, again.stderr
    summary = again.stdout.split("campaign summary", 1)[1].splitlines()[1:]
    rows = [line.split() for line in summary if line.startswith("  ")]
    assert len(rows) == len(all_experiments()) and all(row[1] == "done" for row in rows), again.stdout
    assert "wrote" not in again.stdout
