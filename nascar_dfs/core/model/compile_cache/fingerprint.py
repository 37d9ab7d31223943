"""A key for a model's graphs that is the same in every process that builds the same model.

PyTensor keys its on-disk cache of the whole logp+gradient graph by the rewritten graph, and its
rewrites order commutative inputs and fuse elementwise ops in an order that depends on object ids,
so the same model gives a different graph key in each process. This fingerprint is taken BEFORE any
rewrite: ops with their parameters, types, constants' bytes and names, in topological order, plus the
versions of every library whose code ends up in the compiled model. Relies on PyTensor's graph API
(``pytensor.graph.traversal.toposort``, ``Constant``, ``SharedVariable``, ops' ``__props__``).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import numpy as np

# the libraries whose code or behaviour is compiled into the cached machine code
KEYED_VERSIONS = ("pytensor", "pymc", "numba", "llvmlite", "nutpie", "numpy")


class NotFingerprintable(ValueError):
    """A graph part has no process-independent description: such a model is not cached."""


def graph_fingerprint(
    model: Any, outputs: list[Any], value_vars: list[Any], shapes: list[tuple[int, ...]], salt: str
) -> str:
    """SHA-256 of the graphs' structure, the library versions, the settings and ``salt``."""
    import importlib.metadata as md

    from numba.core.config import OPT  # the level the cached code was optimised at
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.configdefaults import config
    from pytensor.graph.basic import Constant
    from pytensor.graph.traversal import toposort

    h = hashlib.sha256()
    versions = [md.version(p) for p in KEYED_VERSIONS]
    settings = (salt, versions, bool(config.numba__fastmath), str(OPT), model.check_bounds)
    h.update(repr(settings).encode())
    h.update(repr([(v.name, s) for v, s in zip(value_vars, shapes, strict=True)]).encode())
    ids: dict[Any, int] = {}

    def ref(var: Any) -> int:
        if var not in ids:
            if isinstance(var, Constant):
                desc: tuple[Any, ...] = ("const", _type_key(var.type), _value_key(var.data))
            elif isinstance(var, SharedVariable):
                desc = ("shared", var.name, _type_key(var.type))
            elif var.owner is None:
                desc = ("input", var.name, _type_key(var.type))
            else:
                raise NotFingerprintable(f"{var} reached before its node")
            ids[var] = len(ids)
            h.update(repr(desc).encode())
        return ids[var]

    for node in toposort(outputs):
        inputs = [ref(i) for i in node.inputs]
        h.update(repr((_value_key(node.op), inputs, [_type_key(o.type) for o in node.outputs])).encode())
        for out in node.outputs:
            ids[out] = len(ids)
    h.update(repr([ref(o) for o in outputs]).encode())
    return h.hexdigest()


@functools.cache
def _source_stamp(module: str) -> str:
    """Hash of the source of a project-defined op's module (its kernel is not in its parameters).

    PyTensor's and PyMC's ops are covered by their versions in the key.
    """
    import sys

    if module.split(".")[0] in ("pytensor", "pymc", "numpy", "builtins"):
        return ""
    path = getattr(sys.modules.get(module), "__file__", None)
    if path is None:
        raise NotFingerprintable(f"no source file for op module {module}")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _type_key(t: Any) -> tuple[Any, ...]:
    return (type(t).__module__, type(t).__qualname__, str(getattr(t, "dtype", "")), str(t))


def _value_key(v: Any) -> Any:
    """A description of an op parameter or constant that is the same in every process."""
    if v is None or isinstance(v, bool | int | float | str | np.dtype):
        return repr(v)
    if isinstance(v, np.ndarray | np.generic):
        a = np.ascontiguousarray(v)
        return ("array", a.dtype.str, a.shape, hashlib.sha256(a.tobytes()).hexdigest())
    if isinstance(v, tuple | list):
        return tuple(_value_key(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((repr(k), _value_key(x)) for k, x in v.items()))
    if isinstance(v, type) or (callable(v) and hasattr(v, "__qualname__") and not hasattr(v, "__props__")):
        return (getattr(v, "__module__", ""), v.__qualname__)
    props = getattr(type(v), "__props__", None)
    if props is not None:
        params = tuple(_value_key(getattr(v, p)) for p in props)
        return (type(v).__module__, type(v).__qualname__, params, _source_stamp(type(v).__module__))
    text = repr(v)
    if " at 0x" in text or "object at" in text:
        raise NotFingerprintable(f"no stable description for {type(v).__qualname__}: {text[:80]}")
    return (type(v).__module__, type(v).__qualname__, text)
