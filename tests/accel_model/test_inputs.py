"""Reading SCALE-Sim configs and topologies; malformed files raise errors naming file, line and field."""

import math

import pytest

from accel_model import Accelerator, Workload

SHARED = "tests/data/scalesim"

CFG = """[general]
run_name = t

[architecture_presets]
ArrayHeight: 32
ArrayWidth: 16
IfmapSramSzkB: 64
FilterSramSzkB: 32
OfmapSramSzkB: 16
Bandwidth : 10
Dataflow : is

[run_presets]
InterfaceBandwidth: {mode}

[layout]
IfmapSRAMBankBandwidth: 4
FilterSRAMBankBandwidth: 6
"""


def write(tmp_path, text, name="x"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_cfg_fields_map_to_the_accelerator(tmp_path):
    acc = Accelerator.from_scalesim_cfg(write(tmp_path, CFG.format(mode="USER")))
    assert (acc.rows, acc.cols, acc.dataflow) == (32, 16, "is")
    assert (acc.ifmap_sram_kib, acc.filter_sram_kib, acc.ofmap_sram_kib) == (64, 32, 16)
    assert acc.dram_bandwidth == 10  # words (bytes) per cycle
    # SCALE-Sim 3.0.0 USER mode: each read buffer at its [layout] bank bandwidth, the ofmap at Bandwidth
    assert (acc.ifmap_bandwidth, acc.filter_bandwidth, acc.ofmap_bandwidth) == (4, 6, 10)
    assert acc.memory == "scalesim"
    assert (acc.input_bits, acc.weight_bits, acc.output_bits) == (8, 8, 8)  # a SCALE-Sim word is a byte
    ideal = Accelerator.from_scalesim_cfg(write(tmp_path, CFG.format(mode="CALC")))
    assert math.isinf(ideal.dram_bandwidth)


ARCH = r"\[architecture_presets\]"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("ArrayHeight: 32", "ArrayHeight: 0"), rf"bad\.cfg:5: {ARCH} ArrayHeight must be > 0"),
        (("ArrayWidth: 16", "ArrayWidth: x"), rf"bad\.cfg:6: {ARCH} ArrayWidth must be an integer"),
        (("Dataflow : is", "Dataflow : rs"), rf"bad\.cfg:11: {ARCH} Dataflow must be one of"),
        (("Bandwidth : 10", "Bandwidth : 0"), rf"bad\.cfg:10: {ARCH} Bandwidth must be > 0"),
        (("InterfaceBandwidth: USER", "InterfaceBandwidth: DRAM"), r"bad\.cfg:14: .* must be CALC or USER"),
        (("IfmapSramSzkB: 64\n", ""), rf"bad\.cfg:4: {ARCH} is missing field IfmapSramSzkB"),
        (("[architecture_presets]", "[arch]"), rf"bad\.cfg: {ARCH} is missing field"),
        (("ArrayWidth: 16", "ArrayWidth = 16\nArrayWidth = 8"), "not a valid SCALE-Sim config"),
    ],
)
def test_malformed_cfg_names_file_line_section_and_field(tmp_path, change, message):
    path = write(tmp_path, CFG.format(mode="USER").replace(*change), "bad.cfg")
    with pytest.raises(ValueError, match=message) as info:
        Accelerator.from_scalesim_cfg(path)
    assert "bad.cfg" in str(info.value)


def test_missing_cfg_file_is_named(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.cfg: cannot read SCALE-Sim config file"):
        Accelerator.from_scalesim_cfg(tmp_path / "nope.cfg")


HEADER = (
    "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n"
)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("c, 8, 8, 3, 3, 4,\n", "bad.csv:2: expected a layer name and 7 fields"),
        ("c, 8, 8, 3, 3, 4, 0, 1,\n", "bad.csv:2: field 'Num Filter' must be > 0"),
        ("c, 8, eight, 3, 3, 4, 2, 1,\n", "bad.csv:2: field 'IFMAP Width' must be an integer"),
        ("c, 2, 8, 3, 3, 4, 2, 1,\n", "bad.csv:2: filter 3x3 larger than ifmap 2x8"),
    ],
)
def test_malformed_topology_names_file_line_and_field(tmp_path, row, message):
    with pytest.raises(ValueError, match=message):
        Workload.from_scalesim_topology(write(tmp_path, HEADER + row, "bad.csv"))


def test_gemm_layout_is_detected_and_maps_like_scalesim(tmp_path):
    wl = Workload.from_scalesim_topology(write(tmp_path, "Layer, M, N, K,\nqk, 64, 32, 16,\n\n"))
    (layer,) = wl.layers
    assert (layer.M, layer.N, layer.K, layer.ifmap_elements) == (64, 32, 16, 64 * 16)
    with pytest.raises(ValueError, match="x:2: field 'K' must be > 0"):
        Workload.from_scalesim_topology(write(tmp_path, "Layer, M, N, K,\nqk, 64, 32, 0,\n"))


def test_scalesim_output_size_rounds_up_when_stride_does_not_divide(tmp_path):
    # ceil((9 - 2 + 2) / 2) = 5 rows (PyTorch: floor(7 / 2) + 1 = 4): SCALE-Sim's operand matrix
    wl = Workload.from_scalesim_topology(write(tmp_path, HEADER + "r, 9, 7, 2, 3, 5, 7, 2,\n"))
    assert wl.layers[0].M == 5 * 3


def test_published_topologies_load(tmp_path):
    shared = "../shared/scalesim/topologies"
    import os

    if not os.path.isdir(shared):
        pytest.skip("../shared/scalesim not present")
    resnet50 = Workload.from_scalesim_topology(f"{shared}/conv_nets/Resnet50.csv")  # extra columns, blank row
    assert len(resnet50) > 50 and resnet50.layers[0].name == "Conv1"
    gpt2 = Workload.from_scalesim_topology(f"{shared}/GEMM_mnk/gpt2.csv")
    assert (gpt2.layers[0].M, gpt2.layers[0].N, gpt2.layers[0].K) == (1024, 1024, 64)


def test_bad_accelerator_arguments():
    with pytest.raises(ValueError, match="dataflow must be one of"):
        Accelerator(8, 8, dataflow="rs")
    with pytest.raises(ValueError, match="dram_bandwidth must be > 0"):
        Accelerator(8, 8, dram_bandwidth=0)
    with pytest.raises(ValueError, match="pe_mode must be one of"):
        Accelerator(8, 8, pe_mode="analog")
    with pytest.raises(TypeError, match="rows must be an int"):
        Accelerator(8.0, 8)
    with pytest.raises(ValueError, match="preset name must be one of"):
        Accelerator.preset("tpu_v9")


def test_strided_conv_counts_the_input_pixels_its_windows_read(tmp_path):
    # SCALE-Sim fetches only addressed pixels: a 1x1 stride-2 conv of 8x8x4 reads 4x4x4 (its DRAM
    # IFMAP Reads: 64); a 2x2 stride-3 window over 10 rows reads rows 0-1, 3-4, 6-7, 9 (7 of 10).
    text = HEADER + "ds, 8, 8, 1, 1, 4, 8, 2,\nk2s3, 10, 10, 2, 2, 2, 4, 3,\n"
    wl = Workload.from_scalesim_topology(write(tmp_path, text))
    assert [x.ifmap_elements for x in wl] == [64, 7 * 7 * 2]
