"""Helpers shared by the benchmark scripts: machine description, load average, timing."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lpformats._numba_target import llvm_binding, numba_cpu, vector_isa

#: Repository root (the parent of ``benchmarks/``), so that scripts run as files can import
#: ``benchmarks.*`` and the packages of a non-installed checkout.
ROOT = Path(__file__).resolve().parent.parent


def ensure_importable() -> None:
    """Put the repository root on ``sys.path`` (scripts are run as ``python benchmarks/x.py``)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


def cpu_model() -> str:
    """``lscpu``'s "Model name" (falls back to ``platform.processor()``)."""
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "Model name":
            return value.strip()
    return platform.processor() or "unknown CPU"


def cpu_family_model() -> str:
    """``family F model M`` from /proc/cpuinfo (x86 Linux), else an empty string.

    Virtual machines often report a bare model name ("AMD EPYC"): family and model, with
    LLVM's name for the host microarchitecture, still identify the core."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            break  # the first processor is enough
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    if "cpu family" not in fields or "model" not in fields:
        return ""
    return f"family {fields['cpu family']} model {fields['model']}"


#: LLVM feature names of the x86 extensions that matter to our kernels, as vendors spell them.
_ISA_EXTENSIONS = (
    ("avx2", "AVX2"), ("fma", "FMA"), ("f16c", "F16C"), ("bmi2", "BMI2"),
    ("avx512f", "AVX-512F"), ("avx512cd", "CD"), ("avx512bw", "BW"), ("avx512dq", "DQ"),
    ("avx512vl", "VL"), ("avx512ifma", "IFMA"), ("avx512vbmi", "VBMI"), ("avx512vbmi2", "VBMI2"),
    ("avx512vnni", "VNNI"), ("avx512bf16", "BF16"), ("avx512fp16", "FP16"),
    ("avx512bitalg", "BITALG"), ("avx512vpopcntdq", "VPOPCNTDQ"), ("avxvnni", "AVX-VNNI"),
    ("gfni", "GFNI"), ("amx-tile", "AMX"),
)


def isa_extensions(features: dict[str, bool]) -> str:
    """The extensions of :data:`_ISA_EXTENSIONS` present in an LLVM feature map, AVX-512
    subsets joined by ``/`` (``AVX2 FMA F16C BMI2 AVX-512F/CD/BW/...``)."""
    words: list[str] = []
    for name, label in _ISA_EXTENSIONS:
        if not features.get(name, False):
            continue
        if name.startswith("avx512") and name != "avx512f" and words and "AVX-512F" in words[-1]:
            words[-1] += "/" + label
        else:
            words.append(label)
    return " ".join(words) or "no AVX2"


def numba_target() -> str:
    """The ISA Numba compiles for: LLVM CPU name, widest integer vectors, and where it comes
    from. Honours ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES``; note that Numba keeps the
    host's feature list (AVX-512 here) when only ``NUMBA_CPU_NAME`` is set, so AVX2 code needs
    ``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=""``."""
    from numba.core import config

    cpu, features = numba_cpu()
    source = "host"
    if config.CPU_NAME is not None or config.CPU_FEATURES is not None:
        source = (f"NUMBA_CPU_NAME={os.environ.get('NUMBA_CPU_NAME', '')!r} "
                  f"NUMBA_CPU_FEATURES={os.environ.get('NUMBA_CPU_FEATURES', '(host features)')!r}")
    return f"{cpu}, {vector_isa(cpu, features)} vectors ({source})"


def blas_line() -> str:
    """The BLAS libraries loaded in this process (threadpoolctl): implementation, version, the
    core type whose kernels it runs (OpenBLAS: ``architecture``, which honours
    ``OPENBLAS_CORETYPE``) and its threads. Imports numpy so that its BLAS is loaded."""
    import numpy  # noqa: F401  (loads numpy's BLAS, which threadpoolctl then sees)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: unknown (threadpoolctl not installed)"
    parts = [
        f"{info['internal_api']} {info.get('version')} {info.get('architecture', '?')} kernels, "
        f"{info['num_threads']} threads"
        for info in threadpool_info() if info["user_api"] == "blas"
    ]
    override = os.environ.get("OPENBLAS_CORETYPE")
    note = f" (OPENBLAS_CORETYPE={override})" if override else ""
    return "BLAS: " + ("; ".join(parts) or "none loaded") + note


def cpu_line() -> str:
    """The CPU: model name, family/model and LLVM's microarchitecture name, ISA extensions,
    logical cores (e.g. ``AMD EPYC (family 25 model 17, znver4), AVX2 FMA ... AVX-512F/BW/VL,
    2 logical cores``)."""
    llvm = llvm_binding()
    ident = ", ".join(part for part in (cpu_family_model(), llvm.get_host_cpu_name()) if part)
    return (f"{cpu_model()} ({ident}), {isa_extensions(dict(llvm.get_host_cpu_features()))}, "
            f"{os.cpu_count()} logical cores")


def torch_line() -> str:
    """torch's CPU kernel level (``torch.backends.cpu.get_cpu_capability()``, which honours
    ``ATEN_CPU_CAPABILITY``), when the process has imported torch; else an empty string."""
    torch = sys.modules.get("torch")
    if torch is None:
        return ""
    override = os.environ.get("ATEN_CPU_CAPABILITY")
    note = f" (ATEN_CPU_CAPABILITY={override})" if override else ""
    return f"; torch kernels: {torch.backends.cpu.get_cpu_capability()}{note}"


def machine_line() -> str:
    """One line naming the CPU (model, ISA extensions, cores), the ISA Numba compiles for,
    the BLAS kernels in use, torch's kernel level (when torch is loaded) and the load
    average."""
    return (f"machine: {cpu_line()}; numba target: {numba_target()}; {blas_line()}"
            f"{torch_line()}; {load_line()}")


def load_line() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f}"


def best_time(fn: Callable[[], object], repeat: int) -> float:
    """Best wall time of ``repeat`` calls of ``fn`` in seconds, after one untimed warm-up call.

    The minimum is the least disturbed by other processes on a shared machine."""
    if repeat < 1:
        raise ValueError(f"repeat must be an integer >= 1; got {repeat!r}")
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout (the code the figures belong to)."""
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
