"""validation.bench (the user entry point, issue 12 acceptance 4): a model defined here, inline, not one
of ours; typed errors for bad inputs; the `python -m validation bench` command; the README example."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from validation import bench
from validation._bench import BenchError, BenchResult, load_factory

ROOT = Path(__file__).resolve().parents[2]
FAST = dict(k=3, n_random=1, n_bootstrap=8, polish_lr=0.2, polish_steps=40, line_points=13)


class Tiny(torch.nn.Module):
    """A custom forward with a raw parameter matrix: not an nn.Sequential of Linear layers."""

    def __init__(self, n_in=4, hidden=5, n_out=3):
        super().__init__()
        self.w1 = torch.nn.Parameter(0.5 * torch.randn(n_in, hidden, dtype=torch.float64))
        self.b1 = torch.nn.Parameter(torch.zeros(hidden, dtype=torch.float64))
        self.head = torch.nn.Linear(hidden, n_out).double()

    def forward(self, x):
        return self.head(torch.tanh(x @ self.w1 + self.b1))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny models: one intra-op thread (two workers on two cores otherwise oversubscribe them)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 4, dtype=torch.float64, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 0.5).long()
    return X, y


def _trained(seed=0):
    torch.manual_seed(seed)
    model = Tiny()
    train, test = _data(60, 1), _data(40, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.2)
    for _ in range(150):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(train[0]), train[1]).backward()
        opt.step()
    return model, torch.nn.functional.cross_entropy, train, test


@pytest.fixture(scope="module")
def measured():
    model, loss, train, test = _trained()
    before = [p.detach().clone() for p in model.parameters()]
    res = bench(model, loss, train, test, T=0.01, **FAST)
    return model, before, res


def test_bench_on_an_inline_model(measured):
    model, before, r = measured
    assert isinstance(r, BenchResult)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # measured on a copy
    assert all(p.requires_grad for p in model.parameters())
    assert r.p == sum(p.numel() for p in model.parameters()) and r.k == 3
    assert r.parameters == ("w1", "b1", "head.weight", "head.bias")
    h = r.spectra.hessian
    assert np.all(np.diff(h) <= 1e-12) and np.all(r.spectra.residuals < 1e-6 * max(1.0, abs(h[0])))
    assert np.all(r.spectra.noise >= -1e-12) and np.all(np.diff(r.spectra.noise) <= 1e-12)
    assert math.isfinite(r.dt_eq7.constant) and -1 <= r.dt_eq7.pearson <= 1
    assert 0 <= r.curl.top <= 2 and 0 <= r.curl.random <= 2
    if r.sc_b2.available:
        assert r.sc_b2.lyapunov.shape == (3, 3) and r.sc_b2.relative_difference >= 0
    else:
        assert "strict minimum" in r.sc_b2.reason
    assert r.line.alphas.shape == r.line.train_loss.shape == (13,)
    assert r.line.train_argmin_alpha in r.line.alphas and r.line.gradient_norm_test >= 0
    # SC.eq3/eq4 bookkeeping: depth + ½ sᵀCs, the Hessian form and the line fit side by side
    e = r.sc_eq4
    assert e.predicted == pytest.approx(e.depth + 0.5 * r.line.quadratic_form_test, rel=1e-12)
    assert e.shift_curvature_fit == pytest.approx(0.5 * r.line.fit.kappa_test, rel=1e-12)
    assert e.measured == pytest.approx(r.line.test_loss[4], rel=1e-12)  # α = 0 on linspace(-1, 2, 13)
    with pytest.raises(Exception):
        r.T = 1.0  # frozen
    d = json.loads(json.dumps(r.to_dict()))
    assert d["dt_eq7"]["constant"] == pytest.approx(r.dt_eq7.constant)
    assert "DT.eq7" in r.table() and "SC.eq4" in r.table()
    fig = r.plot()
    assert len(fig.axes) == 6


def test_bench_numbers_match_exact_hessian_and_full_covariance(measured):
    """Spectra, DT.eq7's constant and SC.B2 re-derived from the dense Hessian and covariance (p = 43)."""
    from numerics.gradstats import exact_hessian, gradient_covariance
    from numerics.lyapunov import continuous_lyapunov_covariance

    model, _, r = measured
    loss = torch.nn.functional.cross_entropy
    X, y = _data(60, 1)
    H = exact_hessian(model, loss, X, y).numpy()
    D = gradient_covariance(model, loss, X, y).matrix.numpy()
    lam, U = np.linalg.eigh(H)
    lam, U = lam[::-1][:3], U[:, ::-1][:, :3]
    np.testing.assert_allclose(r.spectra.hessian, lam, rtol=1e-8)
    np.testing.assert_allclose(r.spectra.noise, np.linalg.eigvalsh(D)[::-1][:3], rtol=1e-8)
    Dk = U.T @ D @ U  # the eigenvector signs cancel in the diagonal and in ⟨D_k, H_k⟩
    np.testing.assert_allclose(r.spectra.noise_in_hessian_basis, np.diag(Dk), rtol=1e-6, atol=1e-12)
    assert r.dt_eq7.constant == pytest.approx(np.sum(np.diag(Dk) * lam) / np.sum(lam**2), rel=1e-6)
    if r.sc_b2.available:
        S = continuous_lyapunov_covariance(np.diag(lam), Dk, 0.01)
        assert np.linalg.norm(np.diag(r.sc_b2.lyapunov) - np.diag(S)) <= 1e-6 * np.linalg.norm(S)


def test_params_restrict_the_subspace():
    model, loss, train, test = _trained()
    fast = {**FAST, "polish_lr": "auto"}
    res = bench(model, loss, train, test, T=0.01, params=[model.head.weight, "head.bias"], **fast)
    assert res.parameters == ("head.weight", "head.bias") and res.p == 18
    assert res.settings["polish_lr"] == pytest.approx(1 / res.spectra.hessian[0], rel=1e-12)
    assert model.w1.requires_grad  # the caller's flags are untouched


def _expect(match, *args, **kwargs):
    with pytest.raises(BenchError, match=match):
        bench(*args, **{**FAST, **kwargs})


def test_typed_errors_for_bad_inputs():
    model, loss, train, test = _trained()
    X, y = train
    _expect("scalar", model, lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none"), train, test,
            T=0.01)
    model.b1.requires_grad_(False)
    _expect("requires_grad=False", model, loss, train, test, T=0.01, params=["w1", "b1"])
    model.b1.requires_grad_(True)
    _expect("no parameter named", model, loss, train, test, T=0.01, params=["nope"])
    _expect("as many rows", model, loss, (X, y[:-1]), test, T=0.01)
    _expect("input", model, loss, (X[:, :3], y), (test[0][:, :3], test[1]), T=0.01)
    _expect("differ in shape", model, loss, train, (test[0][:, :3], test[1]), T=0.01)
    _expect("on another|is on meta|move the data", model, loss, (X.to("meta"), y.to("meta")), test, T=0.01)
    Xn = X.clone()
    Xn[0, 0] = float("nan")
    _expect("nan|NaN", model, loss, (Xn, y), test, T=0.01)
    for T in (0.0, -1.0, float("inf"), "0.1", None):
        _expect("T must be", model, loss, train, test, T=T)
    _expect("empty", model, loss, (X[:0], y[:0]), test, T=0.01)
    _expect("pair", model, loss, X, test, T=0.01)
    _expect("k = ", model, loss, train, test, T=0.01, k=500)
    _expect("polish_lr", model, loss, train, test, T=0.01, polish_lr="fast")
    _expect("line_points", model, loss, train, test, T=0.01, line_points=12)
    _expect("targets|loss_fn", model, loss, (X, y + 10), test, T=0.01)
    frozen = Tiny().requires_grad_(False)
    _expect("requires_grad=False everywhere", frozen, loss, train, test, T=0.01)


def test_dropout_in_training_mode_is_refused():
    from numerics.gradstats import TrainModeError

    m = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Dropout(0.5), torch.nn.Linear(6, 3)).double()
    with pytest.raises(TrainModeError, match="eval"):
        bench(m, torch.nn.functional.cross_entropy, _data(30, 1), _data(20, 2), T=0.01, **FAST)


def test_load_factory_takes_dotted_identifiers_only():
    assert callable(load_factory("examples.digits_mlp:factory"))
    for bad in ("examples.digits_mlp", "a:b:c", "__import__('os'):system", "os.path:join;x", "x y:z", "class:f",
                "examples.digits_mlp:"):
        with pytest.raises(BenchError):
            load_factory(bad)
    with pytest.raises(BenchError, match="no attribute"):
        load_factory("examples.digits_mlp:nope")
    with pytest.raises(BenchError, match="cannot import"):
        load_factory("no_such_module_here:f")


def tiny_factory(data):
    """A factory for the command-line test: a small inline model trained briefly on ``data``."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(data.n_features, 6), torch.nn.Tanh(),
                                torch.nn.Linear(6, data.n_classes)).double()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(100):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(data.X_train), data.y_train).backward()
        opt.step()
    return model, torch.nn.functional.cross_entropy


def test_cli_writes_summary_and_figure_and_refuses_to_overwrite(tmp_path, capsys):
    from validation.__main__ import main

    out = tmp_path / "b"
    args = ["bench", "--model", "tests.validation.test_bench:tiny_factory", "--data", "wine", "--k", "2",
            "--polish-steps", "20", "--out", str(out)]
    assert main(args) == 2  # no T: neither --T nor a third value from the factory
    assert "--T" in capsys.readouterr().err
    assert main(args + ["--T", "0.02"]) == 0
    text = capsys.readouterr().out
    assert "DT.eq7" in text and "wrote" in text
    summary = json.loads((out / "bench.json").read_text())
    assert summary["T"] == pytest.approx(0.02) and summary["bench"]["data"] == "wine"
    assert summary["provenance"]["seed"] == 0
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert main(args + ["--T", "0.02"]) == 2  # non-empty folder without --force
    assert "--force" in capsys.readouterr().err
    assert main(["bench", "--model", "os:system;", "--data", "wine", "--T", "0.1", "--out", str(tmp_path / "c")]) == 2
    assert "identifiers" in capsys.readouterr().err


README_BLOCK = re.compile(r"<!-- bench-example:begin -->\s*```python\n(.*?)```\s*<!-- bench-example:end -->", re.S)


def test_readme_example_runs(tmp_path, monkeypatch):
    """The README's "Your own network" code block, extracted by its markers and run as written."""
    m = README_BLOCK.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert m, "README.md lost its <!-- bench-example:begin/end --> block"
    code = m.group(1)
    assert len([ln for ln in code.strip().splitlines() if ln.strip()]) <= 5
    monkeypatch.chdir(tmp_path)  # the example writes its figure into the working folder
    monkeypatch.syspath_prepend(str(ROOT))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own README, the point of the test
    assert isinstance(scope["result"], BenchResult)
    assert (tmp_path / "bench.png").exists()
