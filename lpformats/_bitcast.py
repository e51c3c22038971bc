"""Scalar bit casts between float64 and int64 (float32 and int32) for Numba kernels, int32
shifts, and exact powers of two.

Numba has no scalar reinterpret cast; these intrinsics emit a single LLVM ``bitcast``, so the
kernels that use them stay branch-free and vectorize.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic


def _bitcast(source: types.Type, target: types.Type, ir_target: ir.Type, doc: str):
    """An intrinsic reinterpreting a scalar of type ``source`` as ``target`` (same width)."""

    def cast(typingctx, value):
        def codegen(context, builder, signature, args):
            return builder.bitcast(args[0], ir_target)

        return target(source), codegen

    cast.__doc__ = doc
    return intrinsic(cast)


float64_bits = _bitcast(types.float64, types.int64, ir.IntType(64),
                        "The IEEE-754 bit pattern of a float64, as int64.")
bits_float64 = _bitcast(types.int64, types.float64, ir.DoubleType(),
                        "The float64 whose IEEE-754 bit pattern is the int64 ``bits``.")
float32_bits = _bitcast(types.float32, types.int32, ir.IntType(32),
                        "The IEEE-754 bit pattern of a float32, as int32.")
bits_float32 = _bitcast(types.int32, types.float32, ir.FloatType(),
                        "The float32 whose IEEE-754 bit pattern is the int32 ``bits``.")


@intrinsic
def through_half(typingctx, value):
    """The float32 ``value`` rounded to IEEE binary16 (nearest-even, subnormals, overflow to
    inf) and back: one ``fptrunc``/``fpext`` pair, which x86 with F16C runs as
    ``vcvtps2ph``/``vcvtph2ps`` on whole vectors."""
    sig = types.float32(types.float32)

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.fptrunc(args[0], ir.HalfType()), ir.FloatType())

    return sig, codegen


def _int32_binary(build, doc: str):
    """An intrinsic ``int32 (int32, int32)`` emitted by ``build(builder, a, b)`` in int32:
    Numba would widen both operands to int64 first (its shifts, comparisons, min and max
    work in int64), which halves the SIMD lanes of the loop around it."""

    def operation(typingctx, a, b):
        def codegen(context, builder, signature, args):
            return build(builder, *args)

        return types.int32(types.int32, types.int32), codegen

    operation.__doc__ = doc
    return intrinsic(operation)


shift_right32 = _int32_binary(lambda builder, a, b: builder.ashr(a, b),
                              "Arithmetic right shift of an int32 by an int32 count (0..31), in int32.")
shift_left32 = _int32_binary(lambda builder, a, b: builder.shl(a, b),
                             "Left shift of an int32 by an int32 count (0..31), in int32 (bits beyond "
                             "bit 31 are lost).")
min32 = _int32_binary(lambda builder, a, b: builder.select(builder.icmp_signed("<", a, b), a, b),
                      "The smaller of two int32, in int32.")
max32 = _int32_binary(lambda builder, a, b: builder.select(builder.icmp_signed(">", a, b), a, b),
                      "The larger of two int32, in int32.")


@njit(inline="always", cache=True)
def pow2(exponent):
    """Exact ``2.0**exponent`` for integer ``exponent`` in [-1022, 1023]."""
    return bits_float64((exponent + 1023) << 52)


@njit(inline="always", cache=True)
def exponent_of(value):
    """``floor(log2(|value|))`` for normal float64 values, exact (read from the bits).

    Zero and float64 subnormals give -1023; inf and NaN give 1024.
    """
    return ((float64_bits(value) >> 52) & 0x7FF) - 1023


@njit(inline="always", cache=True)
def pow2_32(exponent):
    """Exact float32 ``2.0**exponent`` for integer ``exponent`` in [-126, 127], computed in
    int32 (Numba widens integer arithmetic to int64 unless each result is cast back, which
    would halve the SIMD lanes of a float32 loop)."""
    return bits_float32(np.int32(np.int32(exponent + 127) << 23))
