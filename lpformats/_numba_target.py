"""The CPU Numba compiles for, and the widest integer vectors LLVM uses on it.

Numba reads ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES`` (an empty feature string: the named
CPU's own features; only a name: the host's features are kept), else the host's. Kernels
whose register tiling depends on the vector width (``int16_conv2d``) ask
:func:`numba_vector_isa`, which is a deterministic function of that target, so that code
cached on disk per target stays consistent with the choice.
"""

from __future__ import annotations

import functools


def llvm_binding():
    """``llvmlite.binding`` with the native target and its assembly printer initialised."""
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


#: A 16-lane int32 multiply: LLVM emits it on the widest integer vectors the target has.
_VECTOR_PROBE_IR = """
define void @probe(<16 x i32>* %p, <16 x i32>* %q) {
  %a = load <16 x i32>, <16 x i32>* %p
  %b = load <16 x i32>, <16 x i32>* %q
  %c = mul <16 x i32> %a, %b
  store <16 x i32> %c, <16 x i32>* %p
  ret void
}
"""


def vector_isa(cpu: str, features: str) -> str:
    """The widest integer SIMD that LLVM uses for target ``cpu`` with ``features`` (an LLVM
    feature string; empty: the CPU's defaults): ``AVX-512`` (zmm), ``AVX2`` (ymm), ``AVX``
    (VEX xmm) or ``SSE``. Found by compiling a 16-lane int32 multiply, so it is what the
    compiler does, not what the CPU's name suggests."""
    llvm = llvm_binding()
    machine = llvm.Target.from_default_triple().create_target_machine(cpu=cpu, features=features)
    asm = machine.emit_assembly(llvm.parse_assembly(_VECTOR_PROBE_IR))
    if "zmm" in asm:
        return "AVX-512"
    if "ymm" in asm:
        return "AVX2"
    return "AVX" if "vpmull" in asm else "SSE"


def _lanes(start: int) -> str:
    """The shuffle mask of every other int32 of 32, from ``start``."""
    return ", ".join(f"i32 {i}" for i in range(start, 32, 2))


#: One int16 multiply-add pair step (the pattern of :mod:`lpformats._int16_pairs`) added to an
#: accumulator: ``vpdpwssd`` where the target fuses it (AVX-512 VNNI), else ``vpmaddwd``.
_PAIR_PROBE_IR = f"""
define void @probe(<32 x i16>* %p, <32 x i16>* %q, <16 x i32>* %r) {{
  %a = load <32 x i16>, <32 x i16>* %p
  %b = load <32 x i16>, <32 x i16>* %q
  %wa = sext <32 x i16> %a to <32 x i32>
  %wb = sext <32 x i16> %b to <32 x i32>
  %m = mul <32 x i32> %wa, %wb
  %e = shufflevector <32 x i32> %m, <32 x i32> undef, <16 x i32> <{_lanes(0)}>
  %o = shufflevector <32 x i32> %m, <32 x i32> undef, <16 x i32> <{_lanes(1)}>
  %s = add <16 x i32> %e, %o
  %acc = load <16 x i32>, <16 x i32>* %r
  %t = add <16 x i32> %acc, %s
  store <16 x i32> %t, <16 x i32>* %r
  ret void
}}
"""


def fuses_pair_accumulation(cpu: str, features: str) -> bool:
    """Whether LLVM turns an int16 multiply-add pair step plus its accumulation into one
    ``vpdpwssd`` (AVX-512 VNNI) for target ``cpu`` with ``features``: then the sum needs no
    register of its own."""
    llvm = llvm_binding()
    machine = llvm.Target.from_default_triple().create_target_machine(cpu=cpu, features=features)
    return "vpdpwssd" in machine.emit_assembly(llvm.parse_assembly(_PAIR_PROBE_IR))


def numba_cpu() -> tuple[str, str]:
    """``(cpu, features)``: the LLVM CPU name and feature string Numba compiles for."""
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    cpu = config.CPU_NAME or llvm_binding().get_host_cpu_name()
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    return cpu, features


@functools.cache
def numba_vector_isa() -> str:
    """:func:`vector_isa` of the target Numba compiles for in this process, with ``" VNNI"``
    appended for AVX-512 when :func:`fuses_pair_accumulation` holds (``"AVX-512 VNNI"``)."""
    isa = vector_isa(*numba_cpu())
    return isa + " VNNI" if isa == "AVX-512" and fuses_pair_accumulation(*numba_cpu()) else isa
