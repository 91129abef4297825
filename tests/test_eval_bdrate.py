"""Bjontegaard deltas: the published Kodak anchors and exact identities."""

import numpy as np
import pytest

from jaxlic.eval.bdrate import bd_psnr, bd_rate
from jaxlic.eval.results import read_curve
from tests.conftest import REFERENCE

RATES = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
PSNR = np.array([28.0, 31.0, 34.0, 37.0, 40.5])


def _reference(name):
    path = REFERENCE / f"kodak_{name}.json"
    if not path.exists():
        pytest.skip(f"{path} not available")
    curve = read_curve(path)
    return curve.bpp, curve.psnr_rgb


@pytest.mark.parametrize("name, expected", [("cheng2020-official", 3.4), ("bpg444", 22.0),
                                            ("fu2022-asymmetric-paper", -1.0)])
def test_bd_rate_against_vtm_on_kodak(name, expected):
    assert bd_rate(*_reference("vtm-9.1"), *_reference(name)) == pytest.approx(expected, abs=0.2)


def test_bd_psnr_sign_on_kodak():
    assert bd_psnr(*_reference("vtm-9.1"), *_reference("bpg444")) < -0.5


def test_identities():
    assert bd_rate(RATES, PSNR, RATES, PSNR) == pytest.approx(0.0, abs=1e-12)
    assert bd_rate(RATES, PSNR, 0.9 * RATES, PSNR) == pytest.approx(-10.0, abs=1e-9)
    assert bd_psnr(RATES, PSNR, RATES, PSNR + 0.7) == pytest.approx(0.7, abs=1e-9)
    # Point order and NaN points do not matter.
    shuffled = [3, 0, 4, 1, 2]
    assert bd_rate(RATES, PSNR, np.append(0.9 * RATES[shuffled], np.nan),
                   np.append(PSNR[shuffled], 30.0)) == pytest.approx(-10.0, abs=1e-9)


def test_errors():
    with pytest.raises(ValueError, match="overlap"):
        bd_rate(RATES, PSNR, RATES, PSNR + 20)
    with pytest.raises(ValueError, match="two"):
        bd_rate(RATES, PSNR, RATES[:1], PSNR[:1])
    with pytest.raises(ValueError, match="positive"):
        bd_psnr(RATES, PSNR, RATES - 0.1, PSNR)
