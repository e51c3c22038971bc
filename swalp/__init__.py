"""SWALP and low-precision SGD in PyTorch on lpformats, with accelerator cost reports."""
