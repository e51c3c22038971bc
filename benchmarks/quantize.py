"""Time ``lpformats.quantize`` per format family and rounding mode against np.copyto and
peers, with Numba compiling for the host's ISA and for AVX2, and check the targets.

Run from the repository root::

    python benchmarks/quantize.py [--n 16777216] [--threads 1] [--repeat 7] [--isa host,avx2]
                                  [--gfloat-n 16384] [--formats FMT ...]

For each case (a format) and rounding mode (nearest, stochastic) it prints ns per element of
``quantize(x, fmt, mode, out=o)`` (float32 input, output preallocated, after a warm-up call)
for each numba thread count, and ``copyto/ours`` = np.copyto's time over ours (1.0 would be
the memory-bandwidth limit). Timing is the best of ``--repeat`` interleaved rounds: each
round times np.copyto and then every case once, so that load from other processes hits all
of them alike; on one thread the calling thread's CPU time is kept too (robust to other
processes taking the core, not to their use of caches and memory), with its own ratio.
Targets (issue 15, one thread): nearest fixed/float >= 0.35 of np.copyto, stochastic, BFP
and MX >= 0.2, and torch 2.13's float8_e4m3fn cast at least 4x our
fp8_e4m3 nearest time; each row says PASS or MISS.

``--isa avx2`` runs the same measurement in a child process with
``NUMBA_CPU_NAME=haswell NUMBA_CPU_FEATURES=""`` (Numba compiles AVX2 code; the CPU name
alone keeps the host's AVX-512 features), ``OPENBLAS_CORETYPE=Haswell`` and
``ATEN_CPU_CAPABILITY=avx2`` (torch's AVX2 kernels for the torch peers). The results must be
the same bits on every ISA: each run hashes every output and the tables say whether the
hashes agree with the host's. Peers that share a format are timed too (ns/element and
``peer time / our time``); missing peers print why. Every run prints its machine line
(CPU, ISA, the ISA Numba compiles for, BLAS) and the load average before and after.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import numpy as np

import lpformats
from benchmarks import peers
from benchmarks.common import best_time, code_version, load_line, machine_line

MODES = ("nearest", "stochastic")

#: Columns of the benchmark input: x has shape (n // COLUMNS, COLUMNS).
COLUMNS = 1024


@dataclass(frozen=True)
class Case:
    """One benchmarked format: ``family`` label, lpformats spelling, peers by display name."""

    family: str
    fmt: str
    peers: dict[str, peers.Peer] = field(default_factory=dict)


def _float_peers(ml_name: str | None, torch_name: str | None, exp: int, man: int,
                 gfloat_name: str) -> dict[str, peers.Peer]:
    found: dict[str, peers.Peer] = {}
    if ml_name == "numpy.float16":
        found["numpy float16"] = peers.numpy_float16
    elif ml_name is not None:
        found[f"ml_dtypes {ml_name}"] = peers.ml_dtypes_roundtrip(ml_name)
    if torch_name is not None:
        found[f"torch {torch_name}"] = peers.torch_roundtrip(torch_name)
    found[f"QPyTorch float({exp},{man})"] = peers.qtorch_float(exp, man)
    found[f"gfloat {gfloat_name}"] = peers.gfloat_round(gfloat_name)
    return found


def _mx_peers(gfloat_name: str, mx_name: str) -> dict[str, peers.Peer]:
    return {f"gfloat {gfloat_name}": peers.gfloat_mx(gfloat_name),
            f"microxcaling {mx_name}": peers.microxcaling(mx_name)}


CASES: tuple[Case, ...] = (
    Case("fixed", "int8", {"QPyTorch fixed(8,0)": peers.qtorch_fixed(8, 0)}),
    Case("fixed", "fixed(8,4)", {"QPyTorch fixed(8,4)": peers.qtorch_fixed(8, 4)}),
    Case("float", "fp8_e4m3",
         _float_peers("float8_e4m3fn", "float8_e4m3fn", 4, 3, "format_info_ocp_e4m3")),
    Case("float", "fp8_e5m2", _float_peers("float8_e5m2", "float8_e5m2", 5, 2, "format_info_ocp_e5m2")),
    Case("float", "bf16", _float_peers("bfloat16", "bfloat16", 8, 7, "format_info_bfloat16")),
    Case("float", "fp16", _float_peers("numpy.float16", "float16", 5, 10, "format_info_binary16")),
    Case("float", "fp6_e2m3", _float_peers("float6_e2m3fn", None, 2, 3, "format_info_ocp_e2m3")),
    Case("float", "fp4_e2m1", _float_peers("float4_e2m1fn", None, 2, 1, "format_info_ocp_e2m1")),
    Case("bfp", "bfp8", {"QPyTorch block(8,dim=-1)": peers.qtorch_block(8, -1)}),
    Case("bfp", "bfp(8,axis=0)", {"QPyTorch block(8,dim=0)": peers.qtorch_block(8, 0)}),
    Case("bfp", "bfp(8,block=32)"),
    Case("mx", "mxfp8_e4m3", _mx_peers("format_info_mxfp8_e4m3", "fp8_e4m3")),
    Case("mx", "mxfp4", _mx_peers("format_info_mxfp4_e2m1", "fp4_e2m1")),
    Case("mx", "mxint8", _mx_peers("format_info_mxint8", "int8")),
)


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1; got {text!r}")
    return value


def _thread_list(text: str) -> list[int]:
    counts = [_positive_int(part) for part in text.split(",") if part.strip()]
    if not counts:
        raise argparse.ArgumentTypeError(f"expected comma-separated thread counts; got {text!r}")
    if max(counts) > numba.config.NUMBA_NUM_THREADS:
        raise argparse.ArgumentTypeError(
            f"numba allows at most {numba.config.NUMBA_NUM_THREADS} threads here; got {text!r}")
    return counts


#: Environment of the AVX2 child run (see the module docstring).
AVX2_ENV = {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": "", "OPENBLAS_CORETYPE": "Haswell",
            "ATEN_CPU_CAPABILITY": "avx2"}
ISAS = ("host", "avx2")


def _isa_list(text: str) -> list[str]:
    isas = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [isa for isa in isas if isa not in ISAS]
    if not isas or unknown:
        raise argparse.ArgumentTypeError(f"expected some of {', '.join(ISAS)}; got {text!r}")
    return isas


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=_positive_int, default=1 << 24,
                        help=f"float32 elements (a multiple of {COLUMNS}; default 2**24 = 16M)")
    parser.add_argument("--threads", type=_thread_list, default=[1],
                        help="numba thread counts to time, comma-separated (default 1: the targets' count)")
    parser.add_argument("--repeat", type=_positive_int, default=7,
                        help="interleaved timing rounds; the best of each is kept (default 7)")
    parser.add_argument("--isa", type=_isa_list, default=list(ISAS),
                        help="host (Numba's default target), avx2 (a child process compiling for haswell), "
                             "or both (default host,avx2)")
    parser.add_argument("--gfloat-n", type=_positive_int, default=1 << 14,
                        help="elements given to the slow pure-numpy gfloat reference (default 2**14)")
    parser.add_argument("--peers", choices=("all", "casts", "none"), default="all",
                        help="peers to time: all, casts (ml_dtypes, numpy, torch dtype casts) or none")
    parser.add_argument("--formats", nargs="+", metavar="FMT",
                        help="only these cases (spellings as listed in CASES)")
    parser.add_argument("--child-json", help=argparse.SUPPRESS)  # internal: the AVX2 run's result file
    args = parser.parse_args(argv)
    if args.n % COLUMNS:
        parser.error(f"--n must be a multiple of {COLUMNS}; got {args.n}")
    known = [case.fmt for case in CASES]
    unknown = [f for f in args.formats or [] if f not in known]
    if unknown:
        parser.error(f"--formats: unknown case(s) {unknown}; expected some of {known}")
    return args


def ns_per_element(seconds: float, elements: int) -> float:
    return seconds / elements * 1e9


def target_ratio(case: Case, mode: str) -> float:
    """The issue-15 target for ``copyto/ours``: 0.35 for nearest fixed/float, else 0.2."""
    return 0.35 if mode == "nearest" and case.family in ("fixed", "float") else 0.2


#: Peers that are dtype casts (``--peers casts``).
CAST_PEERS = ("ml_dtypes", "numpy", "torch")
#: The peer whose time must be at least :data:`TORCH_E4M3_FACTOR` times ours (fp8_e4m3 nearest).
TORCH_E4M3_PEER = "torch float8_e4m3fn"
TORCH_E4M3_FACTOR = 4.0


def time_interleaved(x: np.ndarray, out: np.ndarray, cases: list[Case], repeat: int
                     ) -> dict[tuple[str, str] | str, tuple[float, float]]:
    """Best wall and best thread-CPU seconds of np.copyto (key ``"copyto"``) and of every
    ``(format, mode)``'s ``quantize`` over ``repeat`` rounds; each round runs all of them
    once, one after the other. The calling thread's CPU time leaves out the time other
    processes hold the core (it is the whole cost on one Numba thread, which runs in the
    calling thread; it still includes their pressure on caches and memory)."""
    def call_of(fmt: lpformats.Format, mode: str):
        return lambda: lpformats.quantize(x, fmt, mode, seed=1, out=out)

    calls = {"copyto": lambda: np.copyto(out, x)}
    calls.update({(case.fmt, mode): call_of(lpformats.parse(case.fmt), mode)
                  for case in cases for mode in MODES})
    for call in calls.values():
        call()  # warm-up (compiles on first use)
    best = dict.fromkeys(calls, (float("inf"), float("inf")))
    for _ in range(repeat):
        for key, call in calls.items():
            wall, cpu = time.perf_counter(), time.thread_time()
            call()
            wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
            best[key] = (min(best[key][0], wall), min(best[key][1], cpu))
    return best


def time_peer(build: peers.Peer, x: np.ndarray, mode: str, repeat: int, sample: int) -> float | str:
    """ns/element of a peer, or the reason it cannot run."""
    try:
        run = build(x, mode, sample)
    except peers.PeerUnavailableError as exc:
        return str(exc)
    return ns_per_element(best_time(run.call, repeat), run.elements)


def digest(x: np.ndarray, case: Case, mode: str) -> str:
    """sha256 of ``quantize(x)``'s bytes (the same input on every ISA must give the same)."""
    return hashlib.sha256(lpformats.quantize(x, case.fmt, mode, seed=1).tobytes()).hexdigest()[:16]


def measure(args: argparse.Namespace, cases: list[Case]) -> dict:
    """Everything one process measures: machine line, np.copyto and our ns/element per
    thread count, output digests, peer times (JSON-ready)."""
    import torch

    print(machine_line() + " (before)", flush=True)
    torch.set_num_threads(min(args.threads))
    x = np.random.default_rng(0).standard_normal((args.n // COLUMNS, COLUMNS)).astype(np.float32)
    out = np.empty_like(x)
    result: dict = {"machine": machine_line(), "copy_ns": {}, "ours": {}, "ours_cpu": {}, "digests": {},
                    "peers": {}, "torch_threads": torch.get_num_threads()}
    for threads in args.threads:
        numba.set_num_threads(threads)
        best = time_interleaved(x, out, cases, args.repeat)
        wall, cpu = best.pop("copyto")
        result["copy_ns"][str(threads)] = ns_per_element(wall, x.size)
        result["copy_cpu_ns"] = ns_per_element(cpu, x.size) if threads == 1 else result.get("copy_cpu_ns")
        for (fmt, mode), (wall, cpu) in best.items():
            result["ours"][f"{fmt}|{mode}|{threads}"] = ns_per_element(wall, x.size)
            if threads == 1:
                result["ours_cpu"][f"{fmt}|{mode}"] = ns_per_element(cpu, x.size)
        print(f"  {threads} thread(s): np.copyto {result['copy_ns'][str(threads)]:.3f} ns/element, "
              + ", ".join(f"{k} {ns_per_element(v[0], x.size):.2f}" for k, v in best.items()), flush=True)
    for case in cases:
        for mode in MODES:
            result["digests"][f"{case.fmt}|{mode}"] = digest(x, case, mode)
            for name, build in case.peers.items():
                if args.peers == "none" or (args.peers == "casts" and not name.startswith(CAST_PEERS)):
                    continue
                peer = time_peer(build, x, mode, args.repeat, args.gfloat_n)
                result["peers"][f"{case.fmt}|{mode}|{name}"] = peer
                shown = peer if isinstance(peer, str) else f"{peer:.2f}"
                print(f"  {case.fmt:16s} {mode:10s} {name}: {shown}", flush=True)
    result["load_after"] = load_line()
    print(machine_line() + " (after)", flush=True)
    return result


def measure_avx2(argv: list[str]) -> dict:
    """:func:`measure` in a child process whose Numba, OpenBLAS and torch use AVX2 code."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "avx2.json"
        command = [sys.executable, str(Path(__file__).resolve()), *argv, "--isa", "host",
                   "--child-json", str(path)]
        subprocess.run(command, env={**os.environ, **AVX2_ENV}, check=True)
        return json.loads(path.read_text())


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(results: dict[str, dict], cases: list[Case], threads: list[int]) -> None:
    """Per ISA: our ns/element and copyto ratio per thread count with the targets, the
    torch float8_e4m3fn target, the peers, and whether the bits match the host's."""
    reference = next(iter(results.values()))["digests"]
    for isa, result in results.items():
        print(f"\n## lpformats.quantize, {isa}: {result['machine']}\n")
        header = ["family", "format", "rounding"]
        for t in threads:
            header += [f"ns/el {t}t", f"copyto/ours {t}t"]
        one = 1 in threads
        if one:
            header += ["CPU ns/el 1t", "copyto/ours CPU 1t"]
        header += ["target", "1t wall", "1t CPU", "same bits as " + next(iter(results))]
        rows = []
        for case in cases:
            for mode in MODES:
                row = [case.family, case.fmt, mode]
                for t in threads:
                    ns = result["ours"][f"{case.fmt}|{mode}|{t}"]
                    row += [f"{ns:.2f}", f"{result['copy_ns'][str(t)] / ns:.2f}"]
                target = target_ratio(case, mode)
                verdicts = ["-", "-"]
                if one:
                    cpu_ns = result["ours_cpu"][f"{case.fmt}|{mode}"]
                    cpu_ratio = result["copy_cpu_ns"] / cpu_ns
                    row += [f"{cpu_ns:.2f}", f"{cpu_ratio:.2f}"]
                    wall_ratio = result["copy_ns"]["1"] / result["ours"][f"{case.fmt}|{mode}|1"]
                    verdicts = [_verdict(wall_ratio >= target), _verdict(cpu_ratio >= target)]
                same = result["digests"][f"{case.fmt}|{mode}"] == reference[f"{case.fmt}|{mode}"]
                row += [f">= {target}", *verdicts, "yes" if same else "NO"]
                rows.append(row)
        print(_table(header, rows))
        copies = ", ".join(f"{result['copy_ns'][str(t)]:.3f} ({t}t)" for t in threads)
        cpu_copy = f"; thread CPU time {result['copy_cpu_ns']:.3f}" if one else ""
        print(f"\nnp.copyto of the same array: {copies} ns/element{cpu_copy}. Load after: "
              f"{result['load_after']}.")
        peer_rows = []
        for case in cases:
            for mode in MODES:
                best = min(result["ours"][f"{case.fmt}|{mode}|{t}"] for t in threads)
                for name in case.peers:
                    peer = result["peers"].get(f"{case.fmt}|{mode}|{name}")
                    if peer is None:
                        continue
                    if isinstance(peer, str):
                        peer_rows.append([case.fmt, mode, name, peer, "", ""])
                        continue
                    check = ""
                    if name == TORCH_E4M3_PEER and mode == "nearest":
                        check = f"{_verdict(peer / best >= TORCH_E4M3_FACTOR)} (>= {TORCH_E4M3_FACTOR:.0f}x)"
                    peer_rows.append([case.fmt, mode, name, f"{peer:.2f}", f"{peer / best:.1f}x", check])
        if peer_rows:
            print(f"\nPeers, {isa} (torch at {result['torch_threads']} thread(s); ours vs X = X's time / our "
                  "best time):\n")
            print(_table(["format", "rounding", "peer", "peer ns/el", "ours vs peer", "target"], peer_rows))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    cases = [c for c in CASES if args.formats is None or c.fmt in args.formats]
    if args.child_json:
        Path(args.child_json).write_text(json.dumps(measure(args, cases)))
        return
    print(f"# lpformats.quantize benchmark, {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
    print(f"code: {code_version()}")
    import torch

    print(f"numpy {np.__version__}, numba {numba.__version__}, torch {torch.__version__}; "
          f"n = {args.n} float32 ({args.n // COLUMNS} x {COLUMNS}), best of {args.repeat} interleaved "
          f"rounds, gfloat on the first {args.gfloat_n} elements\n", flush=True)
    results: dict[str, dict] = {}
    for isa in args.isa:
        print(f"### {isa}", flush=True)
        results[isa] = measure(args, cases) if isa == "host" else measure_avx2(_without_isa(argv))
    report(results, cases, args.threads)


def _without_isa(argv: list[str]) -> list[str]:
    """``argv`` without an ``--isa VALUE`` pair (the child gets its own)."""
    out, skip = [], False
    for item in argv:
        if skip:
            skip = False
            continue
        if item == "--isa":
            skip = True
            continue
        if not item.startswith("--isa="):
            out.append(item)
    return out


if __name__ == "__main__":
    main()
