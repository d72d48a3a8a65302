"""numerics.training: digits data, the MLP, plain minibatch SGD and the Hessian sharpness."""
import math

import pytest
import torch

from numerics.training import (
    TrainingError,
    digits_shuffled,
    digits_split,
    mlp,
    sgd_index_stream,
    sharpness,
    sharpness_ensemble,
    train_sgd,
    train_sgd_ensemble,
)


def test_digits_split_sizes_standardisation_and_determinism():
    Xtr, ytr, Xte, yte = digits_split(100, 3)
    assert Xtr.shape == (100, 64) and Xte.shape == (1797 - 100, 64)
    assert ytr.dtype == torch.long and Xtr.dtype == torch.float64
    # standardised with the training subset's statistics: mean 0 there (constant pixels stay 0)
    assert float(Xtr.mean(0).abs().max()) < 1e-10
    again = digits_split(100, 3)
    assert torch.equal(again[0], Xtr) and torch.equal(again[3], yte)
    other = digits_split(100, 4)
    assert not torch.equal(other[1], ytr)


def test_digits_shuffled_is_a_permutation():
    X, y = digits_shuffled(0)
    assert X.shape == (1797, 64)
    assert sorted(y.tolist()) == sorted(digits_shuffled(1)[1].tolist())


@pytest.mark.parametrize("args, name", [((0, 0), "n_train"), ((1797, 0), "n_train"), ((10.5, 0), "n_train"),
                                        (("100", 0), "n_train"), ((100, -1), "seed"), ((100, True), "seed")])
def test_digits_split_refuses_bad_arguments(args, name):
    with pytest.raises(TrainingError, match=name):
        digits_split(*args)


def test_mlp_shape_and_refusals():
    model = mlp(5, 64, 10)
    assert model(torch.zeros(3, 64, dtype=torch.float64)).shape == (3, 10)
    assert sum(p.numel() for p in model.parameters()) == 64 * 5 + 5 + 5 * 5 + 5 + 5 * 10 + 10
    with pytest.raises(TrainingError, match="hidden"):
        mlp(0, 64, 10)
    with pytest.raises(TrainingError, match="n_out"):
        mlp(4, 64, "10")


def _quadratic_problem():
    """Least squares y = w·x with a known Hessian 2 XᵀX/n (a linear 'model')."""
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    w = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    y = X @ w
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.zero_()

    def loss_fn(out, target):
        return ((out[:, 0] - target) ** 2).mean()

    return model, loss_fn, X, y, w


def test_full_batch_gradient_descent_converges_and_sgd_is_reproducible():
    model, loss_fn, X, y, w = _quadratic_problem()
    assert train_sgd(model, loss_fn, X, y, lr=0.1, batch_size=10_000, steps=500,
                     generator=torch.Generator().manual_seed(1)) is None
    assert torch.allclose(model.weight[0], w, atol=1e-6)
    finals = []
    for _ in range(2):
        m, loss_fn, X, y, _ = _quadratic_problem()
        train_sgd(m, loss_fn, X, y, lr=0.05, batch_size=4, steps=37, generator=torch.Generator().manual_seed(7))
        finals.append(m.weight.detach().clone())
    assert torch.allclose(finals[0], finals[1], rtol=0, atol=1e-15)


def test_divergence_is_reported_as_the_step():
    model, loss_fn, X, y, _ = _quadratic_problem()
    step = train_sgd(model, loss_fn, X, y, lr=1e3, batch_size=40, steps=10_000,
                     generator=torch.Generator().manual_seed(0))
    assert step is not None and 0 < step < 10_000


@pytest.mark.parametrize("kwargs, name", [(dict(lr=0.0), "lr"), (dict(lr=math.inf), "lr"), (dict(lr="0.1"), "lr"),
                                          (dict(batch_size=0), "batch_size"), (dict(steps=-1), "steps"),
                                          (dict(steps=1.5), "steps")])
def test_train_sgd_refuses_bad_arguments(kwargs, name):
    model, loss_fn, X, y, _ = _quadratic_problem()
    args = dict(lr=0.1, batch_size=4, steps=3, generator=torch.Generator())
    args.update(kwargs)
    with pytest.raises(TrainingError, match=name):
        train_sgd(model, loss_fn, X, y, **args)


def test_sharpness_is_the_top_hessian_eigenvalue():
    model, loss_fn, X, y, _ = _quadratic_problem()
    H = 2 * X.T @ X / X.shape[0]
    top = float(torch.linalg.eigvalsh(H)[-1])
    lam = sharpness(model, loss_fn, X, y, iterations=200, generator=torch.Generator().manual_seed(0))
    assert lam == pytest.approx(top, rel=1e-8)
    with pytest.raises(TrainingError, match="iterations"):
        sharpness(model, loss_fn, X, y, iterations=0, generator=torch.Generator())


# ---------------------------------------------------------------------------------------------
# ensembles


def _ensemble_problem(n=40, n_in=6, hidden=5):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(n, n_in, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (n,), generator=g)
    return X, y, (lambda seed: (torch.manual_seed(seed), mlp(hidden, n_in, 3))[1])


def _vec(model):
    return torch.nn.utils.parameters_to_vector(model.parameters()).detach()


def _per_sample_ce(out, target):
    return torch.nn.functional.cross_entropy(out, target, reduction="none")


MEMBERS = [(0.3, 4, 23, 0), (0.1, 8, 17, 1), (0.2, 4, 9, 2), (0.05, 40, 12, 3), (0.4, 16, 0, 4), (0.1, 7, 30, 5)]


@pytest.mark.parametrize("method, per_sample", [("bmm", None), ("bmm", _per_sample_ce), ("vmap", None),
                                                ("vmap", _per_sample_ce)])
def test_ensemble_member_equals_train_sgd_with_the_same_generator(method, per_sample):
    # mixed batch sizes (one full batch), step counts (one zero) and learning rates
    X, y, make = _ensemble_problem()
    loss_fn = torch.nn.functional.cross_entropy
    solo, solo_gens = [], []
    for lr, B, steps, seed in MEMBERS:
        m, g = make(seed), torch.Generator().manual_seed(seed)
        assert train_sgd(m, loss_fn, X, y, lr=lr, batch_size=B, steps=steps, generator=g) is None
        solo.append(m)
        solo_gens.append(g)
    models = [make(seed) for *_, seed in MEMBERS]
    gens = [torch.Generator().manual_seed(seed) for *_, seed in MEMBERS]
    bad = train_sgd_ensemble(models, loss_fn, X, y, lrs=[m[0] for m in MEMBERS], batch_sizes=[m[1] for m in MEMBERS],
                             steps=[m[2] for m in MEMBERS], generators=gens, per_sample_loss=per_sample,
                             method=method)
    assert bad == [None] * len(MEMBERS)
    for a, b in zip(models, solo):
        assert float((_vec(a) - _vec(b)).norm()) <= 1e-10 * float(_vec(b).norm())
    untouched = make(MEMBERS[4][3])  # 0 steps: the initial parameters
    assert torch.equal(_vec(models[4]), _vec(untouched))
    for g, h in zip(gens, solo_gens):  # the generators are left where train_sgd leaves them
        assert torch.equal(g.get_state(), h.get_state())


def test_index_stream_is_train_sgds_and_drives_the_ensemble():
    X, y, make = _ensemble_problem()
    loss_fn = torch.nn.functional.cross_entropy
    stream = sgd_index_stream(40, 16, 7, torch.Generator().manual_seed(11))
    assert stream.shape == (7, 16)
    # each permutation gives ⌊40/16⌋ = 2 batches of distinct indices, then a new one is drawn
    assert len(set(stream[:2].flatten().tolist())) == 32 and len(set(stream[2:4].flatten().tolist())) == 32
    solo = make(0)
    train_sgd(solo, loss_fn, X, y, lr=0.2, batch_size=16, steps=7, generator=torch.Generator().manual_seed(11))
    member = make(0)
    other = make(1)
    bad = train_sgd_ensemble([member, other], loss_fn, X, y, lrs=[0.2, 0.1], batch_sizes=[16, 16], steps=[7, 3],
                             index_streams=[stream, stream[:3]])
    assert bad == [None, None]
    assert float((_vec(member) - _vec(solo)).norm()) <= 1e-10 * float(_vec(solo).norm())


def test_a_diverging_member_is_reported_and_the_others_train_on():
    X, labels, make = _ensemble_problem()
    y = torch.nn.functional.one_hot(labels, 3).double()

    def loss_fn(out, target):  # squared error: a too large step grows it geometrically to inf
        return ((out - target) ** 2).mean()

    def per_sample_sq(out, target):
        return ((out - target) ** 2).mean(1)

    solo = make(1)
    solo_bad = train_sgd(solo, loss_fn, X, y, lr=1e3, batch_size=8, steps=400,
                         generator=torch.Generator().manual_seed(1))
    assert solo_bad is not None
    calm = make(2)
    train_sgd(calm, loss_fn, X, y, lr=1e-2, batch_size=8, steps=400, generator=torch.Generator().manual_seed(2))
    for per_sample in (None, per_sample_sq):
        models = [make(1), make(2)]
        bad = train_sgd_ensemble(models, loss_fn, X, y, lrs=[1e3, 1e-2], batch_sizes=[8, 8], steps=[400, 400],
                                 generators=[torch.Generator().manual_seed(s) for s in (1, 2)],
                                 per_sample_loss=per_sample)
        assert bad[0] == solo_bad and bad[1] is None
        # the diverged member is left as train_sgd leaves it; the other equals its solo run
        assert torch.allclose(_vec(models[0]), _vec(solo), rtol=1e-10, atol=0, equal_nan=True)
        assert float((_vec(models[1]) - _vec(calm)).norm()) <= 1e-10 * float(_vec(calm).norm())


def test_train_sgd_ensemble_refuses_bad_arguments():
    X, y, make = _ensemble_problem()
    loss_fn = torch.nn.functional.cross_entropy
    g = [torch.Generator(), torch.Generator()]
    ok = dict(lrs=[0.1, 0.1], batch_sizes=[4, 4], steps=[2, 2], generators=g)
    cases = [(dict(lrs=[0.1]), "lrs"), (dict(lrs=[0.1, -1.0]), "lrs"), (dict(batch_sizes=[4, 0]), "batch_sizes"),
             (dict(steps=[2, -1]), "steps"), (dict(generators=None), "exactly one"),
             (dict(index_streams=[torch.zeros(2, 4, dtype=torch.long)] * 2), "exactly one"),
             (dict(method="jit"), "method"), (dict(per_sample_loss="mean"), "per_sample_loss")]
    for change, name in cases:
        with pytest.raises(TrainingError, match=name):
            train_sgd_ensemble([make(0), make(1)], loss_fn, X, y, **{**ok, **change})
    with pytest.raises(TrainingError, match="index_streams\\[1\\]"):
        train_sgd_ensemble([make(0), make(1)], loss_fn, X, y, lrs=[0.1, 0.1], batch_sizes=[4, 4], steps=[2, 2],
                           index_streams=[torch.zeros(2, 4, dtype=torch.long), torch.zeros(3, 4, dtype=torch.long)])
    with pytest.raises(TrainingError, match="architecture"):
        train_sgd_ensemble([make(0), mlp(7, 6, 3)], loss_fn, X, y, **ok)
    with pytest.raises(TrainingError, match="empty"):
        train_sgd_ensemble([], loss_fn, X, y, lrs=[], batch_sizes=[], steps=[], generators=[])
    with pytest.raises(TrainingError, match="vmap"):
        lin = [torch.nn.Linear(6, 3).double() for _ in range(2)]
        wrapped = [torch.nn.ModuleList([m]) for m in lin]
        train_sgd_ensemble(wrapped, loss_fn, X, y, **ok, method="bmm")


def test_vmap_route_trains_a_module_that_is_not_a_sequential():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(6, 4).double(), torch.nn.Linear(4, 3).double()

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    X, y, _ = _ensemble_problem()
    loss_fn = torch.nn.functional.cross_entropy
    torch.manual_seed(0)
    solo, member = Net(), None
    member = Net()
    member.load_state_dict(solo.state_dict())
    train_sgd(solo, loss_fn, X, y, lr=0.1, batch_size=8, steps=15, generator=torch.Generator().manual_seed(4))
    assert train_sgd_ensemble([member], loss_fn, X, y, lrs=[0.1], batch_sizes=[8], steps=[15],
                              generators=[torch.Generator().manual_seed(4)]) == [None]
    assert float((_vec(member) - _vec(solo)).norm()) <= 1e-10 * float(_vec(solo).norm())


def test_sharpness_ensemble_equals_sharpness_member_by_member():
    X, y, make = _ensemble_problem()
    loss_fn = torch.nn.functional.cross_entropy
    models = [make(s) for s in range(3)]
    one_by_one = [sharpness(m, loss_fn, X, y, iterations=30, generator=torch.Generator().manual_seed(s))
                  for s, m in enumerate(models)]
    together = sharpness_ensemble(models, loss_fn, X, y, iterations=30,
                                  generators=[torch.Generator().manual_seed(s) for s in range(3)])
    assert together == pytest.approx(one_by_one, rel=1e-10)
    assert sharpness_ensemble([], loss_fn, X, y, iterations=3, generators=[]) == []
    with pytest.raises(TrainingError, match="iterations"):
        sharpness_ensemble(models, loss_fn, X, y, iterations=0, generators=[torch.Generator()] * 3)
    with pytest.raises(TrainingError, match="generators"):
        sharpness_ensemble(models, loss_fn, X, y, iterations=3, generators=[torch.Generator()])
    with pytest.raises(TrainingError, match="architecture"):
        sharpness_ensemble([models[0], mlp(7, 6, 3)], loss_fn, X, y, iterations=3,
                           generators=[torch.Generator()] * 2)


def test_sharpness_ensemble_of_linear_models_is_the_top_hessian_eigenvalue():
    # a Sequential of one Linear layer: the batched route, checked against the exact eigenvalue
    model, loss_fn, X, y, _ = _quadratic_problem()
    models = [torch.nn.Sequential(model), torch.nn.Sequential(torch.nn.Linear(3, 1, bias=False).double())]
    top = float(torch.linalg.eigvalsh(2 * X.T @ X / X.shape[0])[-1])
    got = sharpness_ensemble(models, loss_fn, X, y, iterations=200,
                             generators=[torch.Generator().manual_seed(s) for s in (0, 1)])
    assert got == pytest.approx([top, top], rel=1e-8)


def test_long_runs_cross_the_index_chunks():
    # more steps than one gathered chunk of indices (256), members ending inside and across chunks
    X, y, make = _ensemble_problem(n=24, n_in=4, hidden=3)
    loss_fn = torch.nn.functional.cross_entropy
    members = [(0.05, 5, 600, 0), (0.1, 8, 256, 1), (0.2, 3, 300, 2)]
    solo = []
    for lr, B, steps, seed in members:
        m = make(seed)
        train_sgd(m, loss_fn, X, y, lr=lr, batch_size=B, steps=steps, generator=torch.Generator().manual_seed(seed))
        solo.append(m)
    models = [make(seed) for *_, seed in members]
    train_sgd_ensemble(models, loss_fn, X, y, lrs=[m[0] for m in members], batch_sizes=[m[1] for m in members],
                       steps=[m[2] for m in members], generators=[torch.Generator().manual_seed(m[3]) for m in members],
                       per_sample_loss=_per_sample_ce)
    for a, b in zip(models, solo):
        assert float((_vec(a) - _vec(b)).norm()) <= 1e-10 * float(_vec(b).norm())


# ---------------------------------------------------------------------------------------------
# the 1-D CNN and ℓ2


def test_cnn1d_shape_parameters_and_refusals():
    from numerics.training import cnn1d

    model = cnn1d(4, 40, 10)
    assert model(torch.zeros(3, 40, dtype=torch.float64)).shape == (3, 10)
    # conv 1→4 (k 5), conv 4→4 (k 3), linear 4·10 → 10
    assert sum(p.numel() for p in model.parameters()) == 4 * 5 + 4 + 4 * 4 * 3 + 4 + 40 * 10 + 10
    assert cnn1d(2, 9, 3)(torch.zeros(1, 9, dtype=torch.float64)).shape == (1, 3)  # odd lengths
    with pytest.raises(TrainingError, match="channels"):
        cnn1d(0, 40, 10)
    with pytest.raises(TrainingError, match="n_in"):
        cnn1d(4, 3, 10)


def test_cnn1d_ensemble_member_equals_train_sgd(weight_decay=0.01):
    """The vmap route on a non-Linear stack: member m is train_sgd of the same net (same init,
    generator, λ, B, ℓ2) to ~1e-10 (only the rounding of batched convolutions differs)."""
    from numerics.training import cnn1d

    g = torch.Generator().manual_seed(3)
    X = torch.randn(24, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (24,), generator=g)
    loss_fn = torch.nn.functional.cross_entropy
    setups = [(0.2, 4, 16), (0.1, 8, 10), (0.05, 4, 12)]
    models = []
    for m in range(len(setups)):
        torch.manual_seed(m)
        models.append(cnn1d(3, 12, 3))
    alone = []
    for m, (lr, B, steps) in enumerate(setups):
        torch.manual_seed(m)
        net = cnn1d(3, 12, 3)
        assert train_sgd(net, loss_fn, X, y, lr=lr, batch_size=B, steps=steps, weight_decay=weight_decay,
                         generator=torch.Generator().manual_seed(10 + m)) is None
        alone.append(net)
    for per_sample in (None, lambda o, t: torch.nn.functional.cross_entropy(o, t, reduction="none")):
        nets = [cnn1d(3, 12, 3) for _ in setups]
        for net, src in zip(nets, models):
            net.load_state_dict(src.state_dict())
        bad = train_sgd_ensemble(nets, loss_fn, X, y, lrs=[s[0] for s in setups], batch_sizes=[s[1] for s in setups],
                                 steps=[s[2] for s in setups], weight_decay=weight_decay, per_sample_loss=per_sample,
                                 generators=[torch.Generator().manual_seed(10 + m) for m in range(len(setups))])
        assert bad == [None] * len(setups)
        for net, ref in zip(nets, alone):
            for a, b in zip(net.parameters(), ref.parameters()):
                assert float((a - b).detach().abs().max()) < 1e-10 * max(1.0, float(b.detach().abs().max()))
    assert not torch.equal(nets[0][1].weight, models[0][1].weight)  # it did train


def test_weight_decay_is_sgd_on_the_l2_regularised_loss_and_refused_when_negative():
    model, loss_fn, X, y, w = _quadratic_problem()
    mu = 0.5
    train_sgd(model, loss_fn, X, y, lr=0.1, batch_size=10_000, steps=2000, weight_decay=mu,
              generator=torch.Generator().manual_seed(0))
    # minimum of mean (x·v − y)² + (μ/2)|v|²: (2 XᵀX/n + μ I) v = 2 Xᵀy/n
    n = X.shape[0]
    v = torch.linalg.solve(2 * X.T @ X / n + mu * torch.eye(3, dtype=torch.float64), 2 * X.T @ y / n)
    assert torch.allclose(model.weight[0].detach(), v, atol=1e-8)
    with pytest.raises(TrainingError, match="weight_decay"):
        train_sgd(model, loss_fn, X, y, lr=0.1, batch_size=4, steps=1, weight_decay=-1.0,
                  generator=torch.Generator().manual_seed(0))
    with pytest.raises(TrainingError, match="weight_decay"):
        train_sgd_ensemble([model], loss_fn, X, y, lrs=[0.1], batch_sizes=[4], steps=[1], weight_decay=float("nan"),
                           generators=[torch.Generator().manual_seed(0)])
