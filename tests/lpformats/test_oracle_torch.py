"""``overflow="saturate"`` on E4M3 equals torch 2.13's ``float8_e4m3fn`` cast, which clamps to
+-448 (ml_dtypes and the style default give NaN beyond 464 instead). Pinned to torch 2.13:
other versions have cast differently (earlier ones gave NaN from 480 on)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import lpformats as lp
from lpformats.testing.compare import assert_same_values
from tests.lpformats.test_oracle_ml_dtypes import SWEEP

pytestmark = pytest.mark.skipif(
    not torch.__version__.startswith("2.13"),
    reason=f"the saturating float8_e4m3fn cast is pinned to torch 2.13; found torch {torch.__version__}",
)

E4M3_SATURATE = "float(4,3,style=fn,overflow=saturate)"


def test_saturating_e4m3_equals_torch_cast():
    x = torch.from_numpy(SWEEP.copy())
    expected = x.to(torch.float8_e4m3fn).to(torch.float32)
    got = lp.quantize(x, E4M3_SATURATE)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32
    assert_same_values(got.numpy(), expected.numpy(), SWEEP, E4M3_SATURATE)
    assert float(expected.abs().nan_to_num(0).max()) == 448.0


def test_saturating_e4m3_codes_equal_torch_bits():
    finite_or_inf = SWEEP[~np.isnan(SWEEP)]
    expected = torch.from_numpy(finite_or_inf.copy()).to(torch.float8_e4m3fn).view(torch.uint8).numpy()
    np.testing.assert_array_equal(lp.encode(finite_or_inf, E4M3_SATURATE), expected)


def test_style_default_differs_from_torch_beyond_464():
    x = np.array([465.0, -1e6, np.inf], dtype=np.float32)
    assert np.isnan(lp.quantize(x, "fp8_e4m3")).all()
    torch_cast = torch.from_numpy(x).to(torch.float8_e4m3fn).to(torch.float32).numpy()
    np.testing.assert_array_equal(torch_cast, [448.0, -448.0, 448.0])
