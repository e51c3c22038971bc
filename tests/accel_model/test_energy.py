"""Energy table: cited Horowitz 45 nm numbers, scaling rules between table points, user overrides."""

import re
from importlib import resources

import pytest

from accel_model import EnergyTable


def test_packaged_table_holds_horowitz_isscc_2014_numbers():
    e = EnergyTable.load()
    assert e.add_pj("int", 8) == 0.03 and e.add_pj("int", 32) == 0.1
    assert e.mult_pj("int", 8) == 0.2 and e.mult_pj("int", 32) == 3.1
    assert e.add_pj("float", 11) == 0.4 and e.mult_pj("float", 11) == 1.1  # fp16: 11-bit significand
    assert e.add_pj("float", 24) == 0.9 and e.mult_pj("float", 24) == 3.7  # fp32: 24-bit significand
    assert e.sram_pj_per_byte(8) == 10 / 8 and e.sram_pj_per_byte(1024) == 100 / 8
    assert e.dram_pj_per_byte == 1300 / 8


def test_every_number_in_the_packaged_table_cites_its_source():
    text = resources.files("accel_model.data").joinpath("energy_45nm.toml").read_text()
    numbers = [line for line in text.splitlines() if re.match(r"\s*\w+\s*=\s*[0-9.]+", line)]
    assert len(numbers) == 14  # node, 8 arithmetic, 3 SRAM, DRAM, random bit
    for line in numbers:
        comment = line.partition("#")[2]
        assert "Horowitz 2014" in comment or "ASSUMPTION" in comment, line


def test_scaling_rules_between_table_points():
    e = EnergyTable.load()
    assert e.mult_pj("int", 4) == pytest.approx(0.2 * (4 / 8) ** 2)  # multiplier ~ bits^2, from 8
    assert e.mult_pj("int", 24) == pytest.approx(3.1 * (24 / 32) ** 2)  # nearest point 32
    assert e.add_pj("int", 16) == pytest.approx(0.1 * 16 / 32)  # adder ~ bits; 16 is equidistant: larger
    assert e.mult_pj("float", 8) == pytest.approx(1.1 * (8 / 11) ** 2)  # bf16 significand
    # SRAM: log-log between 8 KiB (10 pJ) and 32 KiB (20 pJ); sqrt(size) beyond 1 MiB
    assert e.sram_pj_per_byte(16) == pytest.approx(10 * 2**0.5 / 8)
    assert e.sram_pj_per_byte(4096) == pytest.approx(100 * 2 / 8)


def test_user_override_file_replaces_some_entries(tmp_path):
    override = tmp_path / "mine.toml"
    override.write_text("[int_mult]\n8 = 0.1\n[dram]\npj_per_64bit = 640.0\n")
    e = EnergyTable.load(override=override)
    assert e.mult_pj("int", 8) == 0.1 and e.mult_pj("int", 32) == 3.1
    assert e.dram_pj_per_byte == 80
    assert e.name == "horowitz_45nm+mine"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[int_mult]\n8 = -1\n", r"int_mult\.8 must be > 0 pJ"),
        ("[int_mult]\neight = 1\n", "key 'eight' must be an integer width"),
        ("[sram]\n8 = 1\n", "unknown keys"),
        ("[int_mult\n", "not valid TOML"),
    ],
)
def test_bad_override_names_file_and_key(tmp_path, text, message):
    override = tmp_path / "bad.toml"
    override.write_text(text)
    with pytest.raises(ValueError, match=message) as info:
        EnergyTable.load(override=override)
    assert "bad.toml" in str(info.value)
