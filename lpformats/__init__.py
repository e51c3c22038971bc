"""Bit-exact emulation of low-precision number formats: fixed point, small floats, block
floating point and OCP MX, with every rounding mode, as fast Numba kernels."""

from lpformats.formats import BlockFloat, FixedPoint, FloatFormat, Format, MXFormat
from lpformats.spelling import PRESETS, parse

__all__ = ["PRESETS", "BlockFloat", "FixedPoint", "FloatFormat", "Format", "MXFormat", "parse"]

from lpformats.quantize import quantize

__all__ += ["quantize"]

from lpformats.codec import BlockCodes, decode, encode  # noqa: E402

__all__ += ["BlockCodes", "decode", "encode"]

from lpformats.matmul import MatmulStats, matmul  # noqa: E402

__all__ += ["MatmulStats", "matmul"]

from lpformats.conv import conv2d  # noqa: E402

__all__ += ["conv2d"]

from lpformats.analyze import analyze  # noqa: E402

__all__ += ["analyze"]

from lpformats.bitserial import bitserial_matmul, int_matmul, pack_bitplanes  # noqa: E402

__all__ += ["bitserial_matmul", "int_matmul", "pack_bitplanes"]

from lpformats.bitserial_conv import (  # noqa: E402
    PackedConvWeights,
    PackedInt16Weights,
    Schedule,
    bitserial_conv2d,
    int16_conv2d,
    pack_conv_weights,
    pack_int16_weights,
    tune_conv2d,
)

__all__ += ["PackedConvWeights", "PackedInt16Weights", "Schedule", "bitserial_conv2d", "int16_conv2d",
            "pack_conv_weights", "pack_int16_weights", "tune_conv2d"]
