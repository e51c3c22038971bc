"""Cycle, memory-traffic and energy model of a systolic-array accelerator (SCALE-Sim compatible)."""
