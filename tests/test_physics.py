"""Physics primitives against hand-computed values, limits and edge cases (doctests run too)."""

import math

import numpy as np
import pytest

from hepmini.analysis import physics
from hepmini.errors import DataError, HepminiError


def test_mass_hand_computed():
    # 50 GeV photons back to back in phi at the same eta: m = 2 * 50 GeV.
    assert physics.diphoton_mass(50.0, 0.3, 0.2, 50.0, 0.3, 0.2 + math.pi) == pytest.approx(100.0, rel=1e-12)
    # pt1 = 40, pt2 = 90, delta eta = 1, delta phi = pi/2: m^2 = 2*40*90*cosh(1).
    expected = math.sqrt(2 * 40 * 90 * math.cosh(1.0))
    assert physics.diphoton_mass(40.0, 0.5, 1.0, 90.0, -0.5, 1.0 - math.pi / 2) == pytest.approx(expected, rel=1e-12)


def test_mass_matches_four_vectors():
    rng = np.random.default_rng(3)
    pt1, pt2 = rng.uniform(25, 200, (2, 1000))
    eta1, eta2 = rng.uniform(-2.4, 2.4, (2, 1000))
    phi1, phi2 = rng.uniform(-np.pi, np.pi, (2, 1000))

    def p4(pt, eta, phi):  # massless: E = |p|
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        return np.sqrt(px**2 + py**2 + pz**2), px, py, pz

    e1, x1, y1, z1 = p4(pt1, eta1, phi1)
    e2, x2, y2, z2 = p4(pt2, eta2, phi2)
    m = np.sqrt((e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2)
    np.testing.assert_allclose(physics.diphoton_mass(pt1, eta1, phi1, pt2, eta2, phi2), m, rtol=1e-9)


def test_mass_collinear_is_zero_not_nan():
    assert physics.diphoton_mass(50.0, 1.1, 0.7, 80.0, 1.1, 0.7) == 0.0


def test_delta_phi_wraps_into_half_open_interval():
    assert physics.delta_phi(math.pi, 0.0) == pytest.approx(-math.pi)
    assert physics.delta_phi(-math.pi, 0.0) == pytest.approx(-math.pi)
    assert physics.delta_phi(0.0, math.pi / 2) == pytest.approx(-math.pi / 2)
    assert physics.delta_phi(3.0, -3.0) == pytest.approx(6.0 - 2 * math.pi)
    assert physics.delta_phi(-3.0, 3.0) == pytest.approx(2 * math.pi - 6.0)
    assert physics.delta_phi(0.1 + 4 * math.pi, 0.0) == pytest.approx(0.1)
    d = physics.delta_phi(*np.random.default_rng(0).uniform(-20, 20, (2, 10000)))
    assert d.min() >= -math.pi and d.max() < math.pi


def test_delta_phi_is_the_documented_formula():
    a, b = np.random.default_rng(1).uniform(-np.pi, np.pi, (2, 100))
    np.testing.assert_array_equal(physics.delta_phi(a, b), (a - b + np.pi) % (2 * np.pi) - np.pi)
    assert "(phi1 - phi2 + pi) % (2*pi) - pi" in physics.delta_phi.__doc__


def test_photon_acceptance_edges():
    crack = (1.37, 1.52)
    pt = np.array([25.0, 25.0001, 30, 30, 30, 30, 30, 30, np.nan, 30])
    eta = np.array([0.0, 0.0, 1.37, 1.52, -1.45, 1.3699, 2.37, -2.3699, 0.0, np.nan])
    ok = physics.photon_acceptance(pt, eta, 25.0, 2.37, crack)
    assert ok.tolist() == [False, True, False, False, False, True, False, True, False, False]


def test_isolated_ratios_and_bad_values():
    with np.errstate(all="raise"):  # pt = 0 must not warn
        ok = physics.isolated([3.0, 3.3, 0.0, 1.0, np.nan], [0.0, 0.0, 3.3, 0.0, 0.0],
                              [50.0, 50.0, 50.0, 0.0, 50.0], 0.065)
    assert ok.tolist() == [True, False, False, False, False]


def test_mc_event_weight():
    w = physics.mc_event_weight(np.array([1.0, -1.0]), 0.9, 0.95, 1.1, 0.1, 1e5, 10064.0)
    np.testing.assert_allclose(w, [10064 * 0.1 / 1e5 * 0.9 * 0.95 * 1.1, -10064 * 0.1 / 1e5 * 0.9 * 0.95 * 1.1])


def test_background_scale_factors():
    r = physics.background_scale_factors(76000, 30000, 2400)
    assert r["SF1"] == pytest.approx(76000 / 30000)
    assert r["SF2"] == pytest.approx(2400 / 30000)
    assert r["expected_background"] == pytest.approx(76000 * 2400 / 30000)
    assert r["NTI_sideband_yield"] == 30000.0


def test_background_scale_factors_zero_sideband_is_clear():
    with pytest.raises(DataError, match="NTI sideband yield is 0.0") as info:
        physics.background_scale_factors(100, 0, 5)
    assert isinstance(info.value, HepminiError)


def test_asimov_limits():
    # s << b: Z -> s / sqrt(b)
    assert physics.asimov_z(1.0, 1e6) == pytest.approx(1.0 / 1e3, rel=1e-6)
    assert physics.asimov_z(0.5, 400.0) == pytest.approx(0.5 / 20, rel=1e-3)
    assert physics.asimov_z(0.0, 100.0) == 0.0
    assert physics.asimov_z(0.0, 0.0) == 0.0
    assert physics.asimov_z(-1.0, 100.0) == 0.0  # negative net signal is no evidence
    assert math.isinf(physics.asimov_z(3.0, 0.0)) and math.isinf(physics.asimov_z(3.0, -1.0))
    assert math.isnan(physics.asimov_z(np.nan, 1.0)) and math.isnan(physics.asimov_z(1.0, np.nan))
    # s >> b: Z grows; formula value by hand
    assert physics.asimov_z(100.0, 1.0) == pytest.approx(math.sqrt(2 * (101 * math.log(101) - 100)))


def test_asimov_is_elementwise_and_quiet():
    s = np.array([[0.0, 1.0], [10.0, 5.0]])
    b = np.array([[0.0, 0.0], [100.0, 1.0]])
    with np.errstate(all="raise"):
        z = physics.asimov_z(s, b)
    assert z.shape == (2, 2)
    assert z[0, 0] == 0.0 and np.isinf(z[0, 1])
    assert z[1, 0] == pytest.approx(0.9839916447569412)


def test_combined_z():
    assert physics.combined_z([3.0, 4.0]) == pytest.approx(5.0)
    assert physics.combined_z([]) == 0.0
    z = physics.asimov_z([1.0, 2.0], [10.0, 20.0])
    assert physics.combined_z(z) ** 2 == pytest.approx(np.sum(z**2))
