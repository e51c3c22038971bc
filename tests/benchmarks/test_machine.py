"""Every benchmark names the machine it ran on: CPU model, ISA extensions, cores, the ISA
Numba compiles for, the BLAS kernels in use (benchmarks/common.py)."""

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.common import ROOT, isa_extensions, vector_isa


@pytest.mark.parametrize(
    ("cpu", "expected"),
    [("haswell", "AVX2"), ("skylake-avx512", "AVX-512"), ("sandybridge", "AVX"), ("x86-64", "SSE")],
)
def test_vector_isa_is_what_llvm_emits_for_the_cpus_defaults(cpu, expected):
    assert vector_isa(cpu, "") == expected


def test_host_features_override_the_cpu_name():
    # Numba passes the host feature list unless NUMBA_CPU_FEATURES is set: haswell with
    # +avx512f still gets zmm registers.
    assert vector_isa("haswell", "+avx2,+avx512f,+avx512bw,+avx512vl") == "AVX-512"


def test_isa_extensions_group_avx512_subsets():
    features = {"avx2": True, "fma": True, "avx512f": True, "avx512bw": True, "avx512vl": True,
                "avx512vnni": True, "avx512vpopcntdq": True, "avx512fp16": False}
    assert isa_extensions(features) == "AVX2 FMA AVX-512F/BW/VL/VNNI/VPOPCNTDQ"
    assert isa_extensions({"sse4.2": True}) == "no AVX2"


def _machine_line(**env: str) -> str:
    code = "from benchmarks.common import machine_line; print(machine_line())"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, text=True, check=True,
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT), **env}).stdout


def test_machine_line_names_cores_numba_target_and_blas_under_avx2_settings():
    line = _machine_line(NUMBA_CPU_NAME="haswell", NUMBA_CPU_FEATURES="", OPENBLAS_CORETYPE="Haswell")
    assert f"{os.cpu_count()} logical cores" in line
    assert "numba target: haswell, AVX2 vectors" in line
    assert "load average" in line
    if "openblas" in line:
        assert "Haswell kernels" in line and "OPENBLAS_CORETYPE=Haswell" in line


def _calls_machine_line(path: Path) -> bool:
    tree = ast.parse(path.read_text())
    return any(isinstance(node, ast.Call) and getattr(node.func, "id", None) == "machine_line"
               for node in ast.walk(tree))


def test_every_benchmark_script_prints_the_machine():
    scripts = [p for p in sorted((ROOT / "benchmarks").glob("*.py"))
               if 'if __name__ == "__main__"' in p.read_text()]
    assert scripts
    assert [p.name for p in scripts if not _calls_machine_line(p)] == []
