"""The memory models: SCALE-Sim's buffers (exact, golden-tested elsewhere) and our physical model."""

import math

import pytest

from accel_model import Accelerator, Layer, Workload, estimate
from accel_model.memory.scalesim import Buffers, simulate
from accel_model.memory.scalesim_streams import Geometry, ifmap_matrix, ofmap_line_counts
from accel_model.systolic import map_gemm

ARRAY = dict(rows=8, cols=8, ifmap_sram_kib=64.0, filter_sram_kib=64.0, ofmap_sram_kib=64.0)


def cost(layer, memory="physical", formats=None, **accel):
    return estimate(Workload([layer]), Accelerator(**{**ARRAY, **accel}), formats, memory=memory).layers[0]


def test_partial_sums_stay_on_chip_when_the_output_tile_fits():
    layer = Layer("g", M=64, N=8, K=64)  # ws: 8 folds of the reduction over 8 rows
    kept = cost(layer)
    assert kept.dram_words["ofmap"] == 64 * 8  # each output written once
    assert kept.dram_bytes_by_operand["ofmap"] == 64 * 8  # at the int8 output width
    # SCALE-Sim's accounting writes every fold's outputs
    assert cost(layer, memory="scalesim").dram_words["ofmap"] == 64 * 8 * 8


def test_partial_sums_spill_at_the_accumulator_width_when_the_tile_does_not_fit():
    layer = Layer("g", M=512, N=8, K=64)  # tile 512 x 8 int32 = 16 KiB > half of 16 KiB
    spilled = cost(layer, ofmap_sram_kib=16.0)
    folds = 8
    assert spilled.dram_words["ofmap"] == 512 * 8 * (1 + 2 * (folds - 1))
    assert spilled.dram_bytes_by_operand["ofmap"] == 512 * 8 * (1 + 2 * (folds - 1) * 4)


def test_output_stationary_keeps_partial_sums_in_the_array():
    layer = Layer("g", M=512, N=8, K=64)
    assert cost(layer, dataflow="os", ofmap_sram_kib=1.0).dram_words["ofmap"] == 512 * 8


def test_per_buffer_bandwidths_stall_on_the_slowest_interface():
    layer = Layer("g", M=1024, N=8, K=64)
    compute = map_gemm(1024, 8, 64, 8, 8, "ws").cycles
    c = cost(layer, dram_bandwidth=1.0, ifmap_bandwidth=1.0, filter_bandwidth=64.0, ofmap_bandwidth=64.0)
    ifmap_bytes = c.dram_bytes_by_operand["ifmap"]
    assert c.stall_cycles == max(0, math.ceil(ifmap_bytes / 1.0) - compute) > 0
    shared = cost(layer, dram_bandwidth=1.0)  # one link for all three
    assert shared.stall_cycles == math.ceil(shared.dram_bytes / 1.0) - compute > c.stall_cycles


def test_narrow_formats_stall_less_in_the_physical_model_only():
    layer = Layer("g", M=256, N=64, K=64)
    bw = dict(dram_bandwidth=2.0)
    assert cost(layer, formats="fixed(4,2)", **bw).stall_cycles < cost(layer, **bw).stall_cycles
    # SCALE-Sim counts words, whatever their width
    assert (
        cost(layer, "scalesim", "fixed(4,2)", **bw).stall_cycles == cost(layer, "scalesim", **bw).stall_cycles
    )


def test_scalesim_model_needs_what_scalesim_can_express():
    with pytest.raises(ValueError, match="whole number for ifmap bandwidth"):
        estimate(Workload([Layer("g", M=8, N=8, K=8)]), Accelerator.preset("tpu_v1"), memory="scalesim")
    with pytest.raises(ValueError, match="memory must be one of"):
        estimate(Workload([Layer("g", M=8, N=8, K=8)]), Accelerator(**ARRAY), memory="dram")


def test_ideal_bandwidth_never_stalls_in_either_model():
    layer = Layer("g", M=200, N=30, K=70)
    for memory in ("scalesim", "physical"):
        assert cost(layer, memory).stall_cycles == 0


def test_ofmap_line_counts_sum_to_scalesim_ofmap_writes():
    for dataflow in ("ws", "os", "is"):
        M, N, K, R, C = 37, 21, 45, 8, 16
        counts = ofmap_line_counts(M, N, K, dataflow, R, C)
        mapping = map_gemm(M, N, K, R, C, dataflow)
        assert len(counts) == mapping.folds * mapping.cycles_per_fold
        writes = M * N * (1 if dataflow == "os" else mapping.row_folds)
        assert counts.sum() == writes


def test_ifmap_addresses_are_scalesim_im2col_with_holes_past_the_edge():
    g = Geometry(h=5, w=5, r=2, s=2, c=1, n=1, stride=2)  # output 3x3 (rounded up): last windows leave
    m = ifmap_matrix(g)
    assert m.shape == (9, 4)
    assert list(m[0]) == [0, 1, 5, 6]
    assert list(m[2]) == [4, -1, 9, -1]
    assert (m != -1).sum() == g.valid_ifmap_elements()


def test_a_layer_that_fits_its_buffers_stalls_only_on_writes():
    g = Geometry.gemm(64, 64, 64)
    big = simulate(g, "ws", 8, 8, Buffers(1 << 20, 1 << 20, 1 << 20, 1, 1, 1000))
    assert big.stall_cycles == 0 and big.total_cycles == big.lines - 1
    slow_writes = simulate(g, "ws", 8, 8, Buffers(1 << 20, 1 << 20, 1024, 1, 1, 1))
    assert slow_writes.stall_cycles > 0
