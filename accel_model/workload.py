"""Workloads as lists of GEMM layers (convolution via im2col, as SCALE-Sim maps it) and element-wise work."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

KINDS = ("forward", "backward_data", "backward_weight", "elementwise")
#: Format roles of tensors (``state``: optimizer state such as momentum; ``average``: the SWA average).
ROLES = ("weights", "activations", "errors", "gradients", "accumulators", "state", "average")
#: Element-wise operations: (multiplies, adds) of arithmetic per element, vector-unit operations
#: per element. ``update``: SGD with momentum (m = rho*m + g; w -= lr*m); ``swa``: running average
#: w_swa = (n*w_swa + w)/(n+1); ``quantize``: max-reduce and round, its energy is charged by the
#: quantization rules of ``accel_model.estimate`` (not as arithmetic); ``unscale``: loss scaling's
#: g = g * (1/S) and the check that g is finite (a compare, charged as an add); ``scale``: a tensor
#: times a scalar (adaptive loss scaling's per-layer error scale); ``moments``: a sum of squares
#: and a largest magnitude (square, add, compare: adaptive loss scaling's statistics).
ELEMENTWISE_OPS = {"update": (2, 2, 4), "swa": (2, 1, 3), "quantize": (0, 0, 2), "unscale": (1, 1, 2),
                   "scale": (1, 0, 1), "moments": (1, 2, 3)}


@dataclass(frozen=True)
class Layer:
    """One unit of work: a GEMM ``(M x K) @ (K x N)`` repeated ``repeat`` times, or element-wise work.

    GEMM naming follows SCALE-Sim: M = ofmap pixels (rows of the im2col ifmap matrix), N = filters
    (output channels), K = convolution window (R*S*C, the reduction). ``ifmap_elements``,
    ``filter_elements``, ``ofmap_elements`` are the distinct elements of each operand held in
    memory, per repetition (for a convolution the ifmap is H*W*C, smaller than M*K); 0 means the
    GEMM size (M*K, K*N, M*N). ``ifmap_role``/``filter_role``/``ofmap_role`` name the format role
    of each operand (forward: activations x weights -> activations).

    An ``elementwise`` layer has M = N = K = 0 and works on ``elements`` elements per step with
    operation ``op`` (a key of :data:`ELEMENTWISE_OPS`), reading the tensors of roles ``reads``
    and writing ``writes``; ``per_step`` is the fraction of steps on which it runs (SWA averaging
    every c steps: 1/c).
    """

    name: str
    M: int = 0
    N: int = 0
    K: int = 0
    kind: str = "forward"
    repeat: int = 1
    ifmap_elements: int = 0
    filter_elements: int = 0
    ofmap_elements: int = 0
    ifmap_role: str = "activations"
    filter_role: str = "weights"
    ofmap_role: str = "activations"
    op: str = "gemm"
    elements: int = 0
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    per_step: float = 1.0
    conv: tuple[int, int, int, int, int, int, int] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind of layer {self.name!r} must be one of {KINDS}, got {self.kind!r}")
        for attr in (
            "M",
            "N",
            "K",
            "repeat",
            "ifmap_elements",
            "filter_elements",
            "ofmap_elements",
            "elements",
        ):
            value = getattr(self, attr)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{attr} of layer {self.name!r} must be an int, got {value!r}")
            if value < 0:
                raise ValueError(f"{attr} of layer {self.name!r} must be >= 0, got {value}")
        if self.repeat < 1:
            raise ValueError(f"repeat of layer {self.name!r} must be >= 1, got {self.repeat}")
        if not 0 < self.per_step <= 1:
            raise ValueError(f"per_step of layer {self.name!r} must be in (0, 1], got {self.per_step}")
        roles = (self.ifmap_role, self.filter_role, self.ofmap_role, *self.reads, *self.writes)
        for role in roles:
            if role not in ROLES:
                raise ValueError(f"role of layer {self.name!r} must be one of {ROLES}, got {role!r}")
        if self.kind == "elementwise":
            if self.op not in ELEMENTWISE_OPS:
                raise ValueError(
                    f"op of element-wise layer {self.name!r} must be one of "
                    f"{sorted(ELEMENTWISE_OPS)}, got {self.op!r}"
                )
            if self.elements < 1 or self.M or self.N or self.K:
                raise ValueError(f"element-wise layer {self.name!r} needs elements >= 1 and M = N = K = 0")
        elif min(self.M, self.N, self.K) < 1:
            raise ValueError(f"GEMM layer {self.name!r} needs M, N, K >= 1, got {self.M}, {self.N}, {self.K}")
        if self.kind != "elementwise":
            for attr, size in (
                ("ifmap_elements", self.M * self.K),
                ("filter_elements", self.K * self.N),
                ("ofmap_elements", self.M * self.N),
            ):
                if getattr(self, attr) == 0:
                    object.__setattr__(self, attr, size)

    @property
    def is_gemm(self) -> bool:
        """True for forward/backward GEMMs, False for element-wise work."""
        return self.kind != "elementwise"

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer (all repetitions): M*N*K*repeat; 0 for element-wise."""
        return self.M * self.N * self.K * self.repeat

    def as_dict(self) -> dict[str, Any]:
        """Plain-data view (for JSON)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        out["reads"], out["writes"] = list(self.reads), list(self.writes)
        out["conv"] = list(self.conv) if self.conv else None
        return out


@dataclass
class Workload:
    """An ordered list of :class:`Layer` plus the names of layers left out (``skipped``)."""

    layers: list[Layer]
    name: str = "workload"
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.layers, list) or not all(isinstance(x, Layer) for x in self.layers):
            raise TypeError("layers must be a list of Layer")

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    @property
    def macs(self) -> int:
        """Total multiply-accumulates."""
        return sum(layer.macs for layer in self.layers)

    def training_step(self, swa_cycle: int | None = None, loss_scaling: bool = False,
                      adaptive_every: int | None = None) -> Workload:
        """The work of one training step of this (forward) workload; see :mod:`accel_model.training`."""
        from accel_model.training import training_step

        return training_step(self, swa_cycle=swa_cycle, loss_scaling=loss_scaling,
                             adaptive_every=adaptive_every)

    @classmethod
    def from_scalesim_topology(cls, path: str | Path, layout: str = "auto") -> Workload:
        """Read a SCALE-Sim topology CSV: ``layout`` ``"conv"``, ``"gemm"`` or ``"auto"`` (by header).

        Conv rows are ``name, H, W, R, S, C, filters, stride`` (extra columns ignored); the GEMM
        is M = Ho*Wo, N = filters, K = R*S*C with SCALE-Sim's output size
        ``Ho = ceil((H - R + stride) / stride)`` (one more row than PyTorch's
        ``floor((H - R) / stride) + 1`` when ``stride`` does not divide ``H - R``; SCALE-Sim then
        pads the im2col matrix with empty requests). A layer whose name contains ``DP`` is
        depthwise and expands, as in SCALE-Sim, into C layers ``<name>Channel_<i>`` of one
        channel each. GEMM rows are ``name, M, N, K``. Errors name the file, line and field.
        """
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ValueError(f"topology file {path}: cannot read ({exc.strerror})") from None
        rows = list(csv.reader(text.splitlines()))
        if not rows:
            raise ValueError(f"{path}: empty topology file")
        header = [h.strip().lower() for h in rows[0]]
        if layout == "auto":
            layout = "gemm" if len(header) > 3 and header[1:4] == ["m", "n", "k"] else "conv"
        if layout not in ("conv", "gemm"):
            raise ValueError(f"layout must be 'conv', 'gemm' or 'auto', got {layout!r}")
        layers: list[Layer] = []
        for lineno, row in enumerate(rows[1:], start=2):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            if layout == "gemm":
                layers.append(_gemm_row(path, lineno, cells))
            else:
                layers.extend(_conv_row(path, lineno, cells))
        if not layers:
            raise ValueError(f"{path}: no layers in topology")
        return cls(layers, name=path.stem)

    @classmethod
    def from_torch(
        cls,
        module: Any,
        example_input: Any,
        training: bool = False,
        swa_cycle: int | None = None,
        *,
        skip_unsupported: bool = False,
        loss_scaling: bool = False,
        adaptive_every: int | None = None,
    ) -> Workload:
        """Trace a ``torch.nn.Module`` on ``example_input``; see :func:`accel_model.tracing.trace`.

        ``training=True`` returns the work of one training step (:meth:`training_step`), with SWA
        averaging every ``swa_cycle`` steps when given, the unscaling of the gradients with
        ``loss_scaling`` and adaptive layer-wise loss scaling's work with ``adaptive_every``.
        """
        from accel_model.tracing import trace

        workload = trace(module, example_input, skip_unsupported=skip_unsupported)
        if (swa_cycle is not None or loss_scaling or adaptive_every is not None) and not training:
            raise ValueError("swa_cycle and loss_scaling need training=True (both are part of a training "
                             "step)")
        if not training:
            return workload
        return workload.training_step(swa_cycle=swa_cycle, loss_scaling=loss_scaling,
                                      adaptive_every=adaptive_every)

    def with_layers(self, layers: list[Layer], suffix: str = "") -> Workload:
        """A copy with other layers (same skipped list)."""
        return replace(self, layers=layers, name=self.name + suffix, skipped=list(self.skipped))


CONV_FIELDS = (
    "IFMAP Height",
    "IFMAP Width",
    "Filter Height",
    "Filter Width",
    "Channels",
    "Num Filter",
    "Strides",
)
GEMM_FIELDS = ("M", "N", "K")


def _ints(path: Path, lineno: int, cells: list[str], names: tuple[str, ...]) -> list[int]:
    if len(cells) < len(names) + 1 or not cells[0]:
        raise ValueError(
            f"{path}:{lineno}: expected a layer name and {len(names)} fields "
            f"({', '.join(names)}), got {len(cells)} cells"
        )
    out = []
    for name, text in zip(names, cells[1:], strict=False):
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{path}:{lineno}: field {name!r} must be an integer, got {text!r}") from None
        if value <= 0:
            raise ValueError(f"{path}:{lineno}: field {name!r} must be > 0, got {value}")
        out.append(value)
    return out


def _gemm_row(path: Path, lineno: int, cells: list[str]) -> Layer:
    m, n, k = _ints(path, lineno, cells, GEMM_FIELDS)
    return Layer(cells[0], M=m, N=n, K=k, op="gemm")


def _conv_row(path: Path, lineno: int, cells: list[str]) -> list[Layer]:
    h, w, r, s, c, n, stride = _ints(path, lineno, cells, CONV_FIELDS)
    if r > h or s > w:
        raise ValueError(f"{path}:{lineno}: filter {r}x{s} larger than ifmap {h}x{w}")
    name = cells[0]
    if "DP" in name:
        return [conv_layer(f"{name}Channel_{i}", h, w, r, s, 1, n, stride) for i in range(c)]
    return [conv_layer(name, h, w, r, s, c, n, stride)]


def scalesim_out_size(size: int, kernel: int, stride: int) -> int:
    """SCALE-Sim's output size ``ceil((size - kernel + stride) / stride)`` (no padding)."""
    return -(-(size - kernel + stride) // stride)


def touched(size: int, kernel: int, stride: int) -> int:
    """Input rows (or columns) of ``size`` that some window reads, with SCALE-Sim's output size."""
    if kernel >= stride:
        return min(size, (scalesim_out_size(size, kernel, stride) - 1) * stride + kernel)
    return sum(max(0, min(kernel, size - i * stride)) for i in range(scalesim_out_size(size, kernel, stride)))


def conv_layer(name: str, h: int, w: int, r: int, s: int, c: int, n: int, stride: int) -> Layer:
    """The GEMM of a SCALE-Sim convolution row (ifmap ``h x w x c``, ``n`` filters ``r x s``).

    ``ifmap_elements`` counts the input pixels some window reads (a strided 1x1 convolution reads
    one pixel in ``stride**2``), as SCALE-Sim's DRAM reads do.
    """
    m = scalesim_out_size(h, r, stride) * scalesim_out_size(w, s, stride)
    distinct = touched(h, r, stride) * touched(w, s, stride) * c
    return Layer(
        name, M=m, N=n, K=r * s * c, ifmap_elements=distinct, op="conv", conv=(h, w, r, s, c, n, stride)
    )
