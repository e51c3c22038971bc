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


def numba_cpu() -> tuple[str, str]:
    """``(cpu, features)``: the LLVM CPU name and feature string Numba compiles for."""
    from numba.core import config
    from numba.core.codegen import get_host_cpu_features

    cpu = config.CPU_NAME or llvm_binding().get_host_cpu_name()
    features = config.CPU_FEATURES if config.CPU_FEATURES is not None else get_host_cpu_features()
    return cpu, features


@functools.cache
def numba_vector_isa() -> str:
    """:func:`vector_isa` of the target Numba compiles for in this process."""
    return vector_isa(*numba_cpu())
