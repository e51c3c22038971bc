"""Bit-serial 2-D convolution of 1-4 bit codes with generated, per-layer tuned kernels
(Cowan et al., "Automatic generation of high-performance quantized machine learning
kernels", CGO 2020): :func:`bitserial_conv2d`, its schedule space and tuner, and the int16
convolution on multiply-add pairs it is measured against."""

from lpformats.bitserial_conv.cachedir import cache_root, set_cache_root
from lpformats.bitserial_conv.int16_conv import PackedInt16Weights, int16_conv2d, pack_int16_weights
from lpformats.bitserial_conv.operator import PackedConvWeights, bitserial_conv2d, pack_conv_weights
from lpformats.bitserial_conv.schedule import DEFAULT, Schedule, schedule_space
from lpformats.bitserial_conv.tuner import TuneResult, best_time, cpu_key, tune_conv2d

__all__ = [
    "DEFAULT",
    "PackedConvWeights",
    "PackedInt16Weights",
    "Schedule",
    "TuneResult",
    "best_time",
    "bitserial_conv2d",
    "cache_root",
    "cpu_key",
    "int16_conv2d",
    "pack_conv_weights",
    "pack_int16_weights",
    "schedule_space",
    "set_cache_root",
    "tune_conv2d",
]
