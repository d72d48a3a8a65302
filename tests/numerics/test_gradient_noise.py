import math
import warnings

import pytest
import torch

from numerics.devices import DeviceFallbackWarning, resolve_device
import numerics.gradient_noise as gn
from numerics.gradient_noise import (gaussian_reference_noise, minibatch_noise, per_sample_gradients,
                                     principal_directions, standardized_moments)

nn = torch.nn
F = torch.nn.functional


def test_per_sample_gradients_match_autograd_loop():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)).double()
    X = torch.randn(5, 3, dtype=torch.float64)
    y = torch.tensor([0, 1, 1, 0, 1])
    G = per_sample_gradients(model, torch.nn.functional.cross_entropy, X, y)
    for i in range(5):
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(X[i:i + 1]), y[i:i + 1]).backward()
        g = torch.cat([p.grad.reshape(-1) for p in model.parameters()])
        assert torch.allclose(G[i], g, atol=1e-12)


def _loop_gradients(model, loss_fn, X, y):
    """Reference: one autograd backward per sample, ``loss_fn(model(x_i[None]), y_i[None])``."""
    params = [p for p in model.parameters() if p.requires_grad]
    rows = []
    for i in range(X.shape[0]):
        g = torch.autograd.grad(loss_fn(model(X[i:i + 1]), y[i:i + 1]), params)
        rows.append(torch.cat([t.reshape(-1) for t in g]))
    return torch.stack(rows)


def _assert_rel(G, ref, rel=1e-12):
    """Equal to ``rel`` relative to the largest entry of the reference."""
    assert G.shape == ref.shape and G.dtype == ref.dtype
    torch.testing.assert_close(G, ref, rtol=rel, atol=rel * float(ref.abs().max()))


def _mlp(*layers):
    torch.manual_seed(4)
    return nn.Sequential(*layers).double()


LINEAR_STACKS = {
    "tanh_mlp": lambda: _mlp(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 9), nn.Tanh(), nn.Linear(9, 4)),
    "relu_inplace_nested_nobias": lambda: _mlp(nn.Flatten(), nn.Linear(6, 9, bias=False), nn.ReLU(inplace=True),
                                               nn.Sequential(nn.Linear(9, 7), nn.GELU()), nn.Dropout(0.0),
                                               nn.Linear(7, 4)),
    "softplus_first_layer_frozen": lambda: _frozen_first(
        _mlp(nn.Linear(6, 9), nn.Softplus(), nn.Identity(), nn.Linear(9, 4), nn.SiLU(), nn.Linear(4, 4))),
}


def _frozen_first(model):
    model[0].weight.requires_grad_(False)
    return model


LOSSES = {
    "F.cross_entropy": (F.cross_entropy, "class"),
    "CrossEntropyLoss(sum, smoothing)": (nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1), "class"),
    "CrossEntropyLoss(weight) (vmap over the loss)": (
        nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5, 3.0], dtype=torch.float64)), "class"),
    "F.cross_entropy, soft targets": (F.cross_entropy, "probs"),
    "MSELoss(sum)": (nn.MSELoss(reduction="sum"), "dense"),
    "MSELoss()": (nn.MSELoss(), "dense"),
    "F.mse_loss": (F.mse_loss, "dense"),
    "callable (vmap over the loss)": (lambda out, t: (out.logsumexp(1) - out[:, 0] * t.double()).mean(), "class"),
}


def _data(kind, n=23):
    gen = torch.Generator().manual_seed(5)
    X = torch.randn(n, 6, dtype=torch.float64, generator=gen)
    if kind == "class":
        return X, torch.randint(0, 4, (n,), generator=gen)
    y = torch.randn(n, 4, dtype=torch.float64, generator=gen)
    return X, (y.softmax(1) if kind == "probs" else y)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("arch", list(LINEAR_STACKS))
def test_linear_stack_route_equals_per_sample_loop(arch, loss):
    model = LINEAR_STACKS[arch]()
    loss_fn, kind = LOSSES[loss]
    X, y = _data(kind)
    ref = _loop_gradients(model, loss_fn, X, y)
    G = per_sample_gradients(model, loss_fn, X, y, method="linear")
    _assert_rel(G, ref)
    _assert_rel(per_sample_gradients(model, loss_fn, X, y), ref)  # "auto" takes the same route
    _assert_rel(per_sample_gradients(model, loss_fn, X, y, method="vmap"), ref)


def test_generic_model_takes_the_vmap_route_and_equals_loop():
    torch.manual_seed(6)
    model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 3)).double()
    X, y = _data("class")
    y = y % 3
    with pytest.raises(TypeError, match="LayerNorm"):
        per_sample_gradients(model, F.cross_entropy, X, y, method="linear")
    ref = _loop_gradients(model, F.cross_entropy, X, y)
    _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y), ref)


def test_chunked_and_unchunked_agree(monkeypatch):
    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class", n=37)
    ref = per_sample_gradients(model, F.cross_entropy, X, y, method="vmap", chunk_size=None)
    for chunk in (1, 5, 36, 37, 100, "auto"):
        _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y, method="vmap", chunk_size=chunk), ref)
    monkeypatch.setattr(gn, "AUTO_CHUNK_BYTES", 3 * 8 * 200 * 4)  # "auto" now works in chunks of 4
    _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y, method="vmap"), ref)
    _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y, method="linear"), ref)


def test_float32_routes_agree():
    model = LINEAR_STACKS["tanh_mlp"]().float()
    X, y = _data("class")
    G = per_sample_gradients(model, F.cross_entropy, X.float(), y)
    assert G.dtype == torch.float32
    _assert_rel(G, per_sample_gradients(model, F.cross_entropy, X.float(), y, method="vmap"), rel=1e-5)


def test_out_buffer_is_filled_and_checked():
    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    ref = _loop_gradients(model, F.cross_entropy, X, y)
    for method in ("linear", "vmap"):
        buf = torch.full_like(ref, float("nan"))
        assert per_sample_gradients(model, F.cross_entropy, X, y, method=method, out=buf) is buf
        _assert_rel(buf, ref)
    with pytest.raises(ValueError, match="out must be"):
        per_sample_gradients(model, F.cross_entropy, X, y, out=torch.empty(3, 3, dtype=torch.float64))


def test_parameters_changed_between_calls_are_seen():
    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    G0 = per_sample_gradients(model, F.cross_entropy, X, y)
    with torch.no_grad():
        model[0].weight.mul_(2.0)
    G1 = per_sample_gradients(model, F.cross_entropy, X, y)
    assert not torch.allclose(G0, G1)
    _assert_rel(G1, _loop_gradients(model, F.cross_entropy, X, y))


def test_bad_method_and_chunk_size():
    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    with pytest.raises(ValueError, match="method"):
        per_sample_gradients(model, F.cross_entropy, X, y, method="backpack")
    for bad in (0, -3, 2.5, True, "all"):
        for method in ("auto", "vmap"):
            with pytest.raises(ValueError, match="chunk_size"):
                per_sample_gradients(model, F.cross_entropy, X, y, method=method, chunk_size=bad)
    with pytest.raises(ValueError, match="scalar"):
        per_sample_gradients(model, lambda out, t: out.square(), X, y)
    frozen = LINEAR_STACKS["tanh_mlp"]().requires_grad_(False)
    with pytest.raises(ValueError, match="no trainable parameters"):
        per_sample_gradients(frozen, F.cross_entropy, X, y)


def test_equals_backpack_batch_grad():
    backpack = pytest.importorskip("backpack")  # optional extra `bench`
    from backpack.extensions import BatchGrad

    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    G = per_sample_gradients(model, F.cross_entropy, X, y)
    ext = backpack.extend(LINEAR_STACKS["tanh_mlp"]())
    ext.load_state_dict(model.state_dict())
    loss = backpack.extend(nn.CrossEntropyLoss(reduction="sum"))(ext(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BackPACK's full backward hooks on inputs without grad
        with backpack.backpack(BatchGrad()):
            loss.backward()
    ref = torch.cat([p.grad_batch.reshape(X.shape[0], -1) for p in ext.parameters()], dim=1)
    _assert_rel(G, ref)
    # a BackPACK-extended model carries hooks: the Linear-stack route declines it, the vmap route is exact
    with pytest.raises(TypeError, match="hooks"):
        per_sample_gradients(ext, F.cross_entropy, X, y, method="linear")


def test_minibatch_noise_covariance_is_D_over_B():
    gen = torch.Generator().manual_seed(1)
    G = torch.randn(200, 3, dtype=torch.float64, generator=gen) * torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)
    D = torch.cov(G.T, correction=0)
    for B in (1, 8):
        xi = minibatch_noise(G, B, 20000, generator=gen)
        assert torch.allclose(torch.cov(xi.T), D / B, rtol=0.05, atol=0.01 / B)
        ref = gaussian_reference_noise(G, B, 20000, generator=gen)
        assert torch.allclose(torch.cov(ref.T), D / B, rtol=0.05, atol=0.01 / B)


def test_standardized_moments_of_gaussian_and_exponential():
    gen = torch.Generator().manual_seed(2)
    z = torch.randn(200000, 1, dtype=torch.float64, generator=gen)
    s, k = standardized_moments(z)
    assert abs(s.item()) < 0.02 and abs(k.item()) < 0.05
    e = torch.empty(200000, 1, dtype=torch.float64).exponential_(generator=gen)
    s, k = standardized_moments(e)
    assert abs(s.item() - 2) < 0.1 and abs(k.item() - 6) < 0.6


def test_principal_directions_finds_top_axis():
    gen = torch.Generator().manual_seed(3)
    G = torch.randn(500, 40, dtype=torch.float64, generator=gen)
    G[:, 7] *= 10
    v = principal_directions(G, 2)
    assert v.shape == (40, 2) and abs(abs(v[7, 0].item()) - 1) < 1e-3


def test_bad_arguments():
    G = torch.zeros(4, 2)
    with pytest.raises(ValueError):
        minibatch_noise(G, 0, 3)
    with pytest.raises(TypeError):
        resolve_device(3.5)


def test_cuda_request_falls_back_with_warning():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        dev = resolve_device("cuda")
    assert dev.type == "cpu" and any(issubclass(x.category, DeviceFallbackWarning) for x in w)
    assert resolve_device("auto").type == "cpu"


@pytest.mark.parametrize("arch", list(LINEAR_STACKS) + ["layernorm (vmap route)"])
def test_per_sample_gradient_blocks_are_the_matrix_per_parameter(arch):
    """per_sample_gradient_blocks: BackPACK's grad_batch form, equal to the per-sample loop (issue 9.5)."""
    if arch in LINEAR_STACKS:
        model = LINEAR_STACKS[arch]()
    else:
        torch.manual_seed(6)
        model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 4)).double()
    X, y = _data("class")
    ref = _loop_gradients(model, F.cross_entropy, X, y)
    named = [(k, v) for k, v in model.named_parameters() if v.requires_grad]
    for method in (("auto", "vmap") if arch in LINEAR_STACKS else ("auto",)):
        blocks = gn.per_sample_gradient_blocks(model, F.cross_entropy, X, y, method=method)
        assert list(blocks) == [k for k, _ in named]
        for (k, v) in named:
            assert blocks[k].shape == (X.shape[0], *v.shape) and blocks[k].dtype == v.dtype
        _assert_rel(torch.cat([b.reshape(X.shape[0], -1) for b in blocks.values()], dim=1), ref)
    if arch not in LINEAR_STACKS:
        with pytest.raises(TypeError, match="LayerNorm"):
            gn.per_sample_gradient_blocks(model, F.cross_entropy, X, y, method="linear")


def test_per_sample_gradient_blocks_bad_arguments():
    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    with pytest.raises(ValueError, match="method"):
        gn.per_sample_gradient_blocks(model, F.cross_entropy, X, y, method="backpack")
    with pytest.raises(ValueError, match="chunk_size"):
        gn.per_sample_gradient_blocks(model, F.cross_entropy, X, y, chunk_size=0)
    with pytest.raises(ValueError, match="scalar"):
        gn.per_sample_gradient_blocks(model, lambda out, t: out.square(), X, y)
    with pytest.raises(ValueError, match="no trainable parameters"):
        gn.per_sample_gradient_blocks(LINEAR_STACKS["tanh_mlp"]().requires_grad_(False), F.cross_entropy, X, y)


def test_blocks_equal_backpack_grad_batch():
    """Acceptance (issue 12.1): per-parameter per-sample gradients equal BackPACK's grad_batch."""
    backpack = pytest.importorskip("backpack")  # optional extra `bench`
    from backpack.extensions import BatchGrad

    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    ext = backpack.extend(LINEAR_STACKS["tanh_mlp"]())
    ext.load_state_dict(model.state_dict())
    loss = backpack.extend(nn.CrossEntropyLoss(reduction="sum"))(ext(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with backpack.backpack(BatchGrad()):
            loss.backward()
    blocks = gn.per_sample_gradient_blocks(model, F.cross_entropy, X, y)
    for (k, _), q in zip(model.named_parameters(), ext.parameters()):
        _assert_rel(blocks[k], q.grad_batch, rel=1e-12)


@pytest.mark.parametrize("chunk_rows", [1, 5, 64, 1000, "auto"])
def test_gradient_mean_variance_equals_var_mean(chunk_rows):
    gen = torch.Generator().manual_seed(9)
    G = 1e3 + torch.randn(37, 11, dtype=torch.float64, generator=gen)  # a large mean: centred, no cancellation
    mean, var = gn.gradient_mean_variance(G, chunk_rows=chunk_rows)
    ref_var, ref_mean = torch.var_mean(G, 0, correction=0)
    _assert_rel(mean, ref_mean)
    _assert_rel(var, ref_var, rel=1e-10)
    for bad in (0, True, 2.0, "all"):
        with pytest.raises(ValueError, match="chunk_rows"):
            gn.gradient_mean_variance(G, chunk_rows=bad)
    with pytest.raises(ValueError, match=r"\(N, p\)"):
        gn.gradient_mean_variance(G[0])


@pytest.mark.parametrize("arch", list(LINEAR_STACKS) + ["layernorm (vmap route)"])
def test_per_sample_gradient_moments_equal_the_loop(arch):
    if arch in LINEAR_STACKS:
        model = LINEAR_STACKS[arch]()
    else:
        torch.manual_seed(6)
        model = nn.Sequential(nn.Linear(6, 8), nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 4)).double()
    X, y = _data("class")
    ref = _loop_gradients(model, F.cross_entropy, X, y)
    ref_var, ref_mean = torch.var_mean(ref, 0, correction=0)
    for centred in (True, False):
        mom = gn.per_sample_gradient_moments(model, F.cross_entropy, X, y, centred=centred)
        assert mom.centred == (centred or arch not in LINEAR_STACKS)
        _assert_rel(torch.cat([b.reshape(X.shape[0], -1) for b in mom.blocks.values()], dim=1), ref)
        _assert_rel(mom.mean, ref_mean)
        _assert_rel(mom.variance, ref_var, rel=1e-12 if mom.centred else 1e-10)
    with pytest.raises(ValueError, match="centred"):
        gn.per_sample_gradient_moments(model, F.cross_entropy, X, y, centred=1)


def test_moments_equal_backpack_variance():
    backpack = pytest.importorskip("backpack")
    from backpack.extensions import BatchGrad, Variance

    model = LINEAR_STACKS["tanh_mlp"]()
    X, y = _data("class")
    ext = backpack.extend(LINEAR_STACKS["tanh_mlp"]())
    ext.load_state_dict(model.state_dict())
    loss = backpack.extend(nn.CrossEntropyLoss(reduction="sum"))(ext(X), y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with backpack.backpack(BatchGrad(), Variance()):
            loss.backward()
    var_bp = torch.cat([q.variance.reshape(-1) for q in ext.parameters()])
    for centred in (True, False):
        mom = gn.per_sample_gradient_moments(model, F.cross_entropy, X, y, centred=centred)
        _assert_rel(mom.variance, var_bp, rel=1e-10)


@pytest.mark.parametrize("arch", list(LINEAR_STACKS))
def test_small_problem_matrix_moments_equal_the_per_layer_route(arch, monkeypatch):
    """per_sample_gradient_moments on a small Linear stack (N·p ≤ _MATRIX_MOMENTS_MAX: one (N, p)
    matrix, blocks as its views, whole-matrix moments) equals the per-layer delta route to 1e-12."""
    model = LINEAR_STACKS[arch]()
    X, y = _data("class")
    p = sum(v.numel() for v in model.parameters() if v.requires_grad)
    assert X.shape[0] * p <= gn._MATRIX_MOMENTS_MAX
    for centred in (True, False):
        small = gn.per_sample_gradient_moments(model, F.cross_entropy, X, y, centred=centred)
        with monkeypatch.context() as m:
            m.setattr(gn, "_MATRIX_MOMENTS_MAX", 0)
            ref = gn.per_sample_gradient_moments(model, F.cross_entropy, X, y, centred=centred)
        assert small.centred == ref.centred == centred
        assert list(small.blocks) == list(ref.blocks)
        for k, b in small.blocks.items():
            assert b.shape == ref.blocks[k].shape
            _assert_rel(b, ref.blocks[k])
        _assert_rel(small.mean, ref.mean)
        _assert_rel(small.variance, ref.variance)
        assert len({b.untyped_storage().data_ptr() for b in small.blocks.values()}) == 1  # views of one matrix
        assert len({b.untyped_storage().data_ptr() for b in ref.blocks.values()}) > 1 or len(ref.blocks) == 1


CE_OUTPUT_STACKS = {
    "logistic regression": lambda: _mlp(nn.Linear(6, 4)),
    "activation after the last Linear": lambda: _mlp(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 4), nn.Tanh()),
    "last Linear frozen": lambda: _frozen_last(_mlp(nn.Linear(6, 9), nn.Tanh(), nn.Linear(9, 4))),
}


def _frozen_last(model):
    model[-1].requires_grad_(False)
    return model


@pytest.mark.parametrize("arch", list(CE_OUTPUT_STACKS))
def test_closed_form_cross_entropy_delta_equals_the_loop(arch):
    """The Linear route's closed-form output delta softmax − e_y (plain cross-entropy) gives the
    per-sample loop's gradients, whether or not the output is a trainable Linear's."""
    model = CE_OUTPUT_STACKS[arch]()
    X, y = _data("class")
    ref = _loop_gradients(model, F.cross_entropy, X, y)
    _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y, method="linear"), ref)
    _assert_rel(per_sample_gradients(model, nn.CrossEntropyLoss(reduction="sum"), X, y, method="linear"), ref)
    _assert_rel(per_sample_gradients(model, F.cross_entropy, X, y, method="vmap"), ref)


def test_closed_form_cross_entropy_delta_only_for_plain_cross_entropy():
    gen = torch.Generator().manual_seed(11)
    out = torch.randn(23, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    y = torch.randint(0, 4, (23,), generator=gen)
    assert bool((y == 0).any()) and bool((y == 2).any())  # the ignored labels below occur
    ref, = torch.autograd.grad(F.cross_entropy(out, y, reduction="none").sum(), out)
    for loss in (F.cross_entropy, nn.CrossEntropyLoss(), nn.CrossEntropyLoss(reduction="sum", ignore_index=7)):
        _assert_rel(gn._cross_entropy_output_delta(loss, out, y), ref)
    not_plain = [(nn.CrossEntropyLoss(label_smoothing=0.1), y), (nn.CrossEntropyLoss(reduction="none"), y),
                 (nn.CrossEntropyLoss(weight=torch.ones(4, dtype=torch.float64)), y), (F.mse_loss, y),
                 (F.cross_entropy, y.to(torch.int32)), (F.cross_entropy, torch.where(y == 0, -100, y)),
                 (nn.CrossEntropyLoss(ignore_index=2), y), (F.cross_entropy, out.detach().softmax(1))]
    for loss, target in not_plain:
        assert gn._cross_entropy_output_delta(loss, out, target) is None
