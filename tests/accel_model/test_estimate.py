"""estimate(): hand-checkable cycle, traffic and energy cases; precision; PE modes; stalls; compare."""

import math

import pytest

from accel_model import Accelerator, Layer, Workload, estimate
from accel_model.precision import from_format, mac_cost_factor, resolve
from tests.accel_model.golden import accelerator, golden, workload

ARRAY_8x8 = dict(rows=8, cols=8, ifmap_sram_kib=64.0, filter_sram_kib=64.0, ofmap_sram_kib=64.0)


def one(layer, **accel):
    acc = Accelerator(**{**ARRAY_8x8, **accel})
    return estimate(Workload([layer]), acc).layers[0], acc


def test_single_fold_gemm_by_hand():
    # M=10 rows stream through an 8x8 weight-stationary array holding all of K=6 x N=4:
    # one fold of 2R + C + T - 2 = 16 + 8 + 10 - 2 = 32 lines, SCALE-Sim's count is 32 - 1.
    cost, _ = one(Layer("g", M=10, N=4, K=6))
    assert cost.compute_cycles == 31 and cost.stall_cycles == 0
    assert cost.sram_words == {"ifmap": 60, "filter": 24, "ofmap": 40}
    assert cost.sram_bytes_by_operand == {"ifmap": 60, "filter": 24, "ofmap": 40}  # int8: 1 byte each
    assert cost.macs == 240
    # int8 multiply 0.2 pJ + int32 accumulate 0.1 pJ (Horowitz 2014)
    assert cost.energy_by_part["mac"] == pytest.approx(240 * 0.3)
    assert cost.utilization == pytest.approx(240 / (64 * 31))
    assert cost.latency_s == pytest.approx(31 / 1e9)


@pytest.mark.parametrize(("dataflow", "cycles"), [("ws", 9 * 42 - 1), ("os", 9 * 34 - 1), ("is", 9 * 42 - 1)])
def test_gemm_with_several_folds_in_each_dimension(dataflow, cycles):
    # 20x20x20 on 8x8: ceil(20/8) = 3 folds on each spatial axis, 9 folds;
    # per fold ws/is: 2*8 + 8 + 20 - 2 = 42 lines, os: 8 + 8 + 20 - 2 = 34.
    cost, _ = one(Layer("g", M=20, N=20, K=20), dataflow=dataflow)
    assert cost.compute_cycles == cycles
    assert cost.mapping_efficiency == pytest.approx(400 / (9 * 64))


def test_one_by_one_conv_is_a_plain_gemm_over_pixels(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        "Strides,\npw, 4, 4, 1, 1, 16, 8, 1,\n"
    )
    (layer,) = Workload.from_scalesim_topology(topo).layers
    assert (layer.M, layer.N, layer.K, layer.ifmap_elements) == (16, 8, 16, 256)
    cost, _ = one(layer)
    # ws: K=16 -> 2 row folds, N=8 -> 1 col fold; 2 * (16 + 8 + 16 - 2) - 1
    assert cost.compute_cycles == 2 * 38 - 1


def test_depthwise_conv_topology_expands_per_channel_as_scalesim(tmp_path):
    topo = tmp_path / "t.csv"
    topo.write_text(
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, "
        "Strides,\nDP_dw, 8, 8, 3, 3, 4, 1, 1,\n"
    )
    layers = Workload.from_scalesim_topology(topo).layers
    assert [x.name for x in layers] == [f"DP_dwChannel_{i}" for i in range(4)]
    assert {(x.M, x.N, x.K) for x in layers} == {(36, 1, 9)}
    # each channel: K=9 -> 2 row folds on 8 rows, T=M=36: 2 * (16 + 8 + 36 - 2) - 1
    assert [c.compute_cycles for c in estimate(Workload(layers), Accelerator(**ARRAY_8x8)).layers] == [
        115
    ] * 4


def test_grouped_gemm_costs_one_scalesim_layer_per_group():
    cost, _ = one(Layer("dw", M=36, N=1, K=9, repeat=4))
    assert cost.compute_cycles == 4 * 115  # as the 4 per-channel layers of the DP topology above
    assert cost.macs == 4 * 36 * 9


def test_tpu_v1_peak_is_92_tops():
    tpu = Accelerator.preset("tpu_v1")
    assert tpu.pes == 65536 and tpu.clock_mhz == 700
    assert tpu.peak_ops_per_s == 65536 * 2 * 700e6
    assert round(tpu.peak_ops_per_s / 1e12) == 92
    assert tpu.dram_bandwidth * tpu.clock_mhz * 1e6 == pytest.approx(34e9)
    # Jouppi et al. 2017: 24 MiB Unified Buffer, Weight FIFO of four 64 KiB tiles, 4 MiB accumulators
    assert (tpu.ifmap_sram_kib, tpu.filter_sram_kib, tpu.ofmap_sram_kib) == (24 * 1024, 256, 4 * 1024)
    assert (tpu.input_bits, tpu.weight_bits, tpu.acc_bits, tpu.dataflow) == (8, 8, 32, "ws")


def test_bytes_follow_bits_and_block_formats_add_their_shared_scales():
    layer = Layer("g", M=64, N=32, K=64)
    acc = Accelerator(**ARRAY_8x8)
    native = estimate(Workload([layer]), acc).layers[0]
    wide = estimate(Workload([layer]), acc, {"activations": "fp32", "weights": "fp16"}).layers[0]
    assert wide.sram_bytes_by_operand["ifmap"] == 4 * native.sram_bytes_by_operand["ifmap"]
    assert wide.sram_bytes_by_operand["filter"] == 2 * native.sram_bytes_by_operand["filter"]
    mx = estimate(Workload([layer]), acc, {"weights": "mxfp4"}).layers[0]
    assert mx.sram_bytes_by_operand["filter"] == native.sram_words["filter"] * (4 + 8 / 32) / 8
    bfp = estimate(Workload([layer]), acc, {"weights": "bfp(8,block=16)"}).layers[0]
    assert bfp.sram_bytes_by_operand["filter"] == native.sram_words["filter"] * (8 + 8 / 16) / 8
    # whole-tensor BFP: one 8-bit exponent for the 64x32 weight matrix
    assert resolve({"weights": "bfp8"}, acc)["weights"].bits_per_element((64, 32)) == 8 + 8 / 2048


@pytest.mark.parametrize(
    ("mode", "fmt", "factor"),
    [
        ("fixed", "int8", 1),
        ("fixed", "int16", 4),
        ("fixed", "fp32", 16),
        ("fusion", "int8", 1),
        ("fusion", "fixed(4,2)", 1 / 4),
        ("fusion", "fixed(2,0)", 1 / 16),
        ("fusion", "fp4_e2m1", 1 / 4),
        ("bit_serial", "fixed(4,2)", 1 / 4),
        ("bit_serial", "fixed(6,2)", 36 / 64),
    ],
)
def test_pe_modes_scale_the_cost_of_a_mac(mode, fmt, factor):
    acc = Accelerator(**ARRAY_8x8, pe_mode=mode)
    op = from_format("activations", fmt)
    assert mac_cost_factor(op, from_format("weights", fmt), acc) == pytest.approx(factor)
    layer = Layer("g", M=16, N=8, K=64)
    cost = estimate(Workload([layer]), acc, fmt).layers[0]
    k_eff = math.ceil(64 * factor)
    assert cost.compute_cycles == math.ceil(k_eff / 8) * (16 + 8 + 16 - 2) - 1


def test_stalls_are_dram_time_not_hidden_by_compute():
    layer = Layer("g", M=64, N=64, K=64)
    ideal, _ = one(layer)
    assert ideal.stall_cycles == 0
    slow, _ = one(layer, dram_bandwidth=2.0)
    assert slow.compute_cycles == ideal.compute_cycles
    assert slow.stall_cycles == math.ceil(slow.dram_bytes / 2.0) - slow.compute_cycles > 0
    assert slow.total_cycles == slow.compute_cycles + slow.stall_cycles


def test_operand_too_big_for_half_its_sram_is_refetched_per_fold():
    layer = Layer("g", M=256, N=32, K=64)  # ifmap 16 KiB of int8
    fits, _ = one(layer)
    spills, _ = one(layer, ifmap_sram_kib=16.0)  # working half: 8 KiB
    assert fits.dram_words["ifmap"] == 256 * 64
    assert spills.dram_words["ifmap"] == 256 * 64 * 4  # ws re-streams the ifmap per fold of N=32 over 8 cols


def test_scalesim_user_mode_fetches_at_least_the_distinct_elements_and_writes_every_fold():
    checked = 0
    for compute, _, access in golden():
        if compute["mode"] != "USER":
            continue
        layer = workload(compute["topology"]).layers[int(compute["LayerID"])]
        ours = estimate(Workload([layer]), accelerator(compute)).layers[0]
        theirs = [
            int(float(access[k])) for k in ("DRAM IFMAP Reads", "DRAM Filter Reads", "DRAM OFMAP Writes")
        ]
        assert layer.ifmap_elements <= theirs[0] and layer.filter_elements <= theirs[1]
        # it drains whole lines of `bandwidth` words: a partly filled line counts full (< 1% here)
        assert ours.dram_words["ofmap"] <= theirs[2] <= ours.dram_words["ofmap"] * 1.01
        checked += 1
    assert checked > 60


def test_compare_against_fp32_reports_baseline_over_ours():
    wl = Workload([Layer("a", M=64, N=64, K=64), Layer("b", M=32, N=16, K=128)])
    acc = Accelerator(**ARRAY_8x8, dram_bandwidth=1.0)
    report = estimate(wl, acc, {"weights": "bfp8", "activations": "bfp8"})
    cmp = report.compare("fp32")
    # the default baseline is the same array with native fp32 MACs: same compute cycles, 4-byte words
    assert cmp.baseline.accelerator == acc.native_fp32() and "native fp32 MACs" in cmp.label
    assert cmp.baseline.total.compute_cycles == report.total.compute_cycles
    assert cmp.total_speedup > 1 and cmp.total_energy_ratio > 1  # bandwidth-bound: fp32 moves more bytes
    assert cmp.total_speedup == cmp.baseline.total.total_cycles / report.total.total_cycles
    emulated = report.compare("fp32-emulated")  # fp32 on the int8 array: 16 passes per MAC
    assert emulated.baseline.accelerator == acc
    assert emulated.baseline.total.compute_cycles > 10 * report.total.compute_cycles
    assert [r.name for r in cmp.layers] == ["a", "b"]
    assert cmp.baseline.format_labels()["accumulators"] == "fp32"
    ideal = estimate(wl, acc.with_(dram_bandwidth=math.inf), {"weights": "bfp8", "activations": "bfp8"})
    assert ideal.compare("fp32").total_speedup == 1  # compute-bound: native fp32 MACs are as fast
    same = report.compare(report)
    assert same.total_speedup == 1 and same.total_energy_ratio == 1


def test_quantization_energy_counts_rounding_max_reduce_and_random_bits():
    layer = Layer("g", M=8, N=8, K=8)
    acc = Accelerator(**ARRAY_8x8)
    same = estimate(Workload([layer]), acc, {"accumulators": "int8", "activations": "int8"}).layers[0]
    assert same.energy_by_part["quantization"] == 0  # no rounding when formats are equal
    near = estimate(Workload([layer]), acc, {"activations": "bfp8"}).layers[0]
    # per output: an int8 rounding add (0.03) + a 32-bit max-reduce compare (0.1)
    assert near.energy_by_part["quantization"] == pytest.approx(64 * (0.03 + 0.1))
    sr = estimate(
        Workload([layer]), acc, {"activations": "bfp8"}, rounding="stochastic", random_bits=8
    ).layers[0]
    assert sr.energy_by_part["quantization"] == pytest.approx(
        64 * (0.03 + 0.1 + 8 * acc.energy.rng_pj_per_bit)
    )


def test_report_outputs(tmp_path):
    report = estimate(Workload([Layer("a", M=16, N=16, K=16)], name="w"), Accelerator(**ARRAY_8x8))
    text = str(report)
    assert "a" in text and "total" in text and "energy" in text
    csv_text = report.to_csv(tmp_path / "r.csv").read_text().splitlines()
    assert csv_text[0].startswith("name,kind,op,M,N,K") and len(csv_text) == 3
    import json

    data = json.loads(report.to_json(tmp_path / "r.json").read_text())
    assert data["total"]["compute_cycles"] == report.total.compute_cycles
    assert data["formats"]["weights"] == "int8"


@pytest.mark.parametrize(
    ("formats", "error"),
    [
        ({"wieghts": "bfp8"}, "unknown role 'wieghts'"),
        ({"weights": "bfp"}, "role 'weights'"),
        ({"weights": object()}, "bit width"),
    ],
)
def test_bad_formats_name_the_role(formats, error):
    with pytest.raises((ValueError, TypeError), match=error):
        estimate(Workload([Layer("a", M=1, N=1, K=1)]), Accelerator(**ARRAY_8x8), formats)
