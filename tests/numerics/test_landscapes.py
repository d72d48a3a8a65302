"""numerics.landscapes: well mixtures, per-sample models, Styblinski–Tang, presets."""
import numpy as np
import pytest
import sympy as sp

from numerics.compile import compile_expr
from numerics.landscapes import (
    STYBLINSKI_TANG_1D,
    LandscapeError,
    SampledWellModel,
    WellMixture,
    gaussian_pdf,
    preset,
    preset_names,
    styblinski_tang,
    styblinski_tang_per_sample,
)

th = sp.Symbol("theta", real=True)


def test_well_mixture_train_is_shifted_test():
    m = WellMixture([-1, 1], [0.02, 0.1], [0.1, 0.5], c=0.001, shift=0.2, depth_shifts=[0.001, -0.001])
    tr, te = m.train_loss(th), m.test_loss(th)
    # train at θ + s equals a test loss with the depth-shifted weights at θ
    expect = WellMixture([-1, 1], [0.021, 0.099], [0.1, 0.5], c=0.001).test_loss(th)
    diff = tr.subs(th, th + 0.2) - expect - 0.001 * ((th + 0.2) ** 2 - th ** 2)
    f = compile_expr(diff, th)
    assert np.max(np.abs(f(np.linspace(-3, 3, 101)))) < 1e-14
    # the well at -1 of the test loss: value is −w/(σ√(2π)) + c + tail of the other well
    val = float(te.subs(th, -1))
    assert val == pytest.approx(-0.02 / (0.1 * np.sqrt(2 * np.pi)) + 0.001 - 0.1 * np.exp(-8) / (0.5 * np.sqrt(2 * np.pi)))


@pytest.mark.parametrize("mean, sigma", [(-1, sp.Rational(3, 10)), (0.5, 0.25), (sp.Symbol("m"), sp.Symbol("s"))])
def test_gaussian_pdf_is_the_theory_normal_density(mean, sigma):
    """gaussian_pdf is theory.laplace.normal_density (p = 1, Σ = σ²): the printed formula
    exp(−(θ−μ)²/(2σ²))/(σ√(2π)) exactly as an expression, also for a shifted argument, and its
    compiled values agree with a direct NumPy evaluation to 1e-12 (relative)."""
    from theory.laplace import normal_density

    printed = sp.exp(-(th - mean) ** 2 / (2 * sigma ** 2)) / (sigma * sp.sqrt(2 * sp.pi))
    assert gaussian_pdf(th, mean, sigma) == printed
    shifted = gaussian_pdf(2 * th - 1, mean, sigma)
    assert shifted == printed.subs(th, 2 * th - 1)
    if not isinstance(sigma, sp.Symbol):
        xs = np.linspace(-3, 3, 201)
        m, s = float(mean), float(sigma)
        ref = np.exp(-((xs - m) ** 2) / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi))
        for expr in (gaussian_pdf(th, mean, sigma), normal_density([mean], [[sigma ** 2]], th)):
            np.testing.assert_allclose(compile_expr(expr, th)(xs), ref, rtol=1e-12, atol=0)


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(means=[0], weights=[0.1], sigmas=[-0.1]), "sigmas"),
        (dict(means=[0], weights=[0.1], sigmas=[0.0]), "sigmas"),
        (dict(means=[0], weights=[-0.1], sigmas=[0.1]), "weights"),
        (dict(means=[0, 1], weights=[0.1], sigmas=[0.1, 0.1]), "weights"),
        (dict(means=[0], weights=[0.1], sigmas=[0.1], c=-1), "c"),
        (dict(means=[0], weights=[0.1], sigmas=[0.1], depth_shifts=[-0.2]), "depth_shifts"),
        (dict(means=[0], weights=["0.1"], sigmas=[0.1]), "weights"),
        (dict(means=[], weights=[], sigmas=[]), "means"),
    ],
)
def test_well_mixture_validation_names_field(kwargs, field):
    with pytest.raises(LandscapeError, match=field):
        WellMixture(**kwargs)


def test_sampled_model_diffusion_is_sample_variance():
    m = SampledWellModel(means=[-1, 1], weights=[0.05, 0.1], sigmas=[0.1, 0.5], c=0.001, stddev_x=0.05,
                         num_samples=10, seed_train=2, seed_test=1, lscale=1.0, wscale=0.0)
    assert len(m.train_samples) == 10 and m.train_samples != m.test_samples
    D = compile_expr(m.diffusion(th), th)
    x = sp.Symbol("x")
    g = compile_expr(sp.diff(m.per_sample_loss(x, th), th), [x, th])
    pts = np.linspace(-2, 2, 9)
    grads = np.array([g(xs, pts) for xs in m.train_samples])
    np.testing.assert_allclose(D(pts), grads.var(axis=0), rtol=1e-10, atol=1e-18)
    # the train loss is the mean of the per-sample losses
    Utr = compile_expr(m.train_loss(th), th)
    u = compile_expr(m.per_sample_loss(x, th), [x, th])
    np.testing.assert_allclose(Utr(pts), np.mean([u(xs, pts) for xs in m.train_samples], axis=0), rtol=1e-12)
    with pytest.raises(LandscapeError, match="num_samples"):
        SampledWellModel(means=[0], weights=[0.1], sigmas=[0.1], c=0, stddev_x=0.1, num_samples=1,
                         seed_train=0, seed_test=1)


def test_styblinski_tang_landmarks_and_sharpness():
    f = styblinski_tang(th)
    df = compile_expr(sp.diff(f, th), th)
    for key in ("global_minimum", "barrier", "local_minimum"):
        assert abs(float(df(STYBLINSKI_TANG_1D[key]))) < 1e-4
    k = sp.Rational(3)
    fk = styblinski_tang(th, k=k)
    # Hessian scales by k at the rescaled point
    h1 = sp.diff(f, th, 2).subs(th, 1.3)
    hk = sp.diff(fk, th, 2).subs(th, 1.3 / sp.sqrt(3))
    assert float(hk) == pytest.approx(3 * float(h1), rel=1e-12)
    y = sp.symbols("y0:2")
    ps = styblinski_tang_per_sample([0.5, -0.2], list(y), k=2)
    assert float(ps.subs({y[0]: 0.1, y[1]: 0.3})) == pytest.approx(
        float(styblinski_tang([y[0], y[1]]).subs({y[0]: np.sqrt(2) * 0.1 - 0.5, y[1]: np.sqrt(2) * 0.3 + 0.2})))
    with pytest.raises(LandscapeError, match="k"):
        styblinski_tang(th, k=-1)


def test_presets_published_values_and_aliases():
    names = preset_names()
    assert {"SC.fig4.left", "SC.fig4.right", "SC.fig6.left", "SC.fig6.right", "RND.H3.left", "RND.H4.right"} <= set(names)
    left = preset("SC.fig4.left")
    assert [float(w) for w in left.model.weights] == [0.021, 0.1]
    assert preset("SC.fig4.right").model.weights[0] == sp.Float(0.019)
    h3 = preset("RND.H3.left")
    x = h3.drawn["x"]
    assert x == pytest.approx(0.1 * 1.764052345967664)  # RandomState(0).normal()
    assert [float(d) for d in h3.model.depth_shifts] == pytest.approx([0.01 * x, -0.01 * x])
    assert preset("SC.fig6.right").model.n_wells == 3
    assert isinstance(preset("RND.H4.left").model, SampledWellModel)
    with pytest.raises(LandscapeError, match="unknown preset"):
        preset("SC.fig99")
