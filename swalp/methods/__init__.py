"""Training methods: one module per method, each exposing ``METHODS``, a tuple of
:class:`~swalp.methods.base.Method` instances; this registry maps their names to them.

To add a method, write ``swalp/methods/NAME.py`` with a :class:`Method` subclass (and its
:class:`Trainer`), put its instance in the module's ``METHODS``, and add the module's name to
:data:`MODULES`: ``swalp train --method``, ``swalp sweep --methods``, their option flags and
the run's validation pick it up from here.
"""

from __future__ import annotations

import importlib

from swalp.methods.base import Method, Option, Trainer

#: Method modules under ``swalp.methods``, in the order their methods are listed.
MODULES = (
    "sgd",
    "swa",
    "swalp",
    "svrg",
    "halp",
    "fp8",
)
#: The SWALP paper's four methods (``swalp demo`` and the SWALP reproductions train these).
SWALP_METHODS = ("sgd-fp", "swa-fp", "sgd-lp", "swalp")


def _load() -> dict[str, Method]:
    registry: dict[str, Method] = {}
    options: dict[str, Option] = {}
    for module_name in MODULES:
        module = importlib.import_module(f"swalp.methods.{module_name}")
        for method in module.METHODS:
            if method.name in registry:
                raise ValueError(f"method {method.name!r} is defined twice (swalp.methods.{module_name})")
            for option in method.options:
                if options.setdefault(option.name, option) is not option:
                    raise ValueError(f"option {option.name!r} of method {method.name} is defined twice: "
                                     "methods that share an option share its Option object")
            registry[method.name] = method
    return registry


#: name -> method, in :data:`MODULES` order.
REGISTRY: dict[str, Method] = _load()
#: Every method's name (as loaded; code that checks names calls :func:`method_names`).
METHODS: tuple[str, ...] = tuple(REGISTRY)
#: Names of the methods that quantize (formats apply) and of those that average iterates.
LOW_PRECISION: tuple[str, ...] = tuple(name for name, m in REGISTRY.items() if m.low_precision)
AVERAGING: tuple[str, ...] = tuple(name for name, m in REGISTRY.items() if m.averaging)


def method_names() -> tuple[str, ...]:
    """Every registered method's name, in registry order."""
    return tuple(REGISTRY)


def get_method(name: str) -> Method:
    """The method called ``name``.

    Raises:
        ValueError: no such method (the message lists them).
    """
    if name not in REGISTRY:
        raise ValueError(f"unknown method {name!r}; methods are {', '.join(method_names())}")
    return REGISTRY[name]


def all_options() -> dict[str, Option]:
    """Every option of every method, by name (shared options once)."""
    return {option.name: option for method in REGISTRY.values() for option in method.options}


def methods_taking(option: str) -> list[str]:
    """Names of the methods that take ``option``."""
    return [name for name, m in REGISTRY.items() if any(o.name == option for o in m.options)]


def methods_markdown() -> str:
    """README's list of methods (a test checks README holds exactly this text)."""
    lines = []
    for method in REGISTRY.values():
        line = f"  - `{method.name}`: {method.description}"
        if method.options:
            line += "; options " + ", ".join(f"`{o.flag}` ({o.describe()})" for o in method.options)
        lines.append(line + ".")
    return "\n".join(lines)


__all__ = ["AVERAGING", "LOW_PRECISION", "METHODS", "MODULES", "REGISTRY", "SWALP_METHODS", "Method",
           "Option", "Trainer", "all_options", "get_method", "method_names", "methods_markdown",
           "methods_taking"]
