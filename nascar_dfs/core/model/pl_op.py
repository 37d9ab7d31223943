"""The per-race Plackett-Luce log-likelihood and its gradient as one fused PyTensor op.

Written with elementwise ops, one race log-likelihood and its gradient take some twenty passes over
the (races x slots) arrays (masked max, exp, reversed cumsum, log, and their reverse-mode
counterparts, each allocating its result) and two exponentials per cell. The op computes the
log-likelihood and its derivative together, in two passes per row with one exp, one log and one
division per cell; the gradient graph only multiplies the stored derivative by the output gradient.
The mathematics is that of ``plackett_luce.plackett_luce_race_logp_elementwise``:

    shift_r = max over ranked slots of eta[r, k] (``floor`` when the row ranks nothing)
    w[r, k] = exp(eta[r, k] - shift_r) * running[r, k]
    rem[r, k] = sum over j >= k of w[r, j]
    ll[r] = sum_k running[r, k] * (eta[r, k] - shift_r - log(rem[r, k] + 1 - running[r, k]))

For ``running`` in {0, 1} the shift cancels, and the gradient is

    d ll[r] / d eta[r, j] = running[r, j] - w[r, j] * inv[r, j],
    inv[r, j] = sum over k <= j of running[r, k] / (rem[r, k] + 1 - running[r, k]).

``running`` is data (no gradient).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytensor.tensor as pt
from pytensor.gradient import DisconnectedType, grad_not_implemented
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op


def _rows(eta: np.ndarray, running: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    shift = np.max(np.where(running > 0, eta, floor), axis=1, keepdims=True)
    worth = np.exp(eta - shift) * running
    remaining = np.cumsum(worth[:, ::-1], axis=1)[:, ::-1] + (1.0 - running)
    logp = np.sum(running * (eta - shift - np.log(remaining)), axis=1)
    return logp, running - worth * np.cumsum(running / remaining, axis=1)


class PlackettLuceRows(Op):
    """(ll (R,), d ll / d eta (R, K)) from eta (R, K) and running (R, K)."""

    __props__ = ("floor",)

    def __init__(self, floor: float) -> None:
        self.floor = float(floor)

    def make_node(self, eta: Any, running: Any) -> Apply:
        eta = pt.as_tensor_variable(eta).astype("float64")
        running = pt.as_tensor_variable(running).astype("float64")
        if eta.type.ndim != 2 or running.type.ndim != 2:
            raise TypeError("eta and running must be matrices")
        rows = pt.vector(dtype="float64", shape=(eta.type.shape[0],))
        return Apply(self, [eta, running], [rows, pt.matrix(dtype="float64", shape=eta.type.shape)])

    def perform(self, node: Apply, inputs: list[np.ndarray], outputs: list[list[Any]]) -> None:
        logp, dlogp = _rows(inputs[0], inputs[1], self.floor)
        outputs[0][0] = logp
        outputs[1][0] = dlogp

    def infer_shape(self, fgraph: Any, node: Apply, shapes: list[Any]) -> list[Any]:
        return [(shapes[0][0],), shapes[0]]

    def L_op(self, inputs: list[Any], outputs: list[Any], output_grads: list[Any]) -> list[Any]:
        eta, running = inputs
        no_running = grad_not_implemented(self, 1, running, "running is data")
        if not isinstance(output_grads[1].type, DisconnectedType):
            return [grad_not_implemented(self, 0, eta, "no second derivative"), no_running]
        return [output_grads[0][:, None] * outputs[1], no_running]


def plackett_luce_rows(eta: Any, running: Any, floor: float) -> Any:
    """ll (R,): the log-likelihood of each row (its derivative rides along for the gradient)."""
    return PlackettLuceRows(floor)(eta, running)[0]


def _source_version() -> int:
    """PyTensor keys a cached op by its class and parameters only: this file's hash joins the key."""
    import hashlib
    from pathlib import Path

    return int(hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12], 16)


def _register_numba() -> None:
    """numba kernel (with PyTensor's op cache key, so the compiled graph stays cacheable)."""
    try:
        from pytensor.link.numba.dispatch.basic import numba_njit, register_funcify_default_op_cache_key
    except ImportError:  # numba missing: the Python perform serves PyMC's sampler
        return

    @register_funcify_default_op_cache_key(PlackettLuceRows)
    def _funcify_rows(op: PlackettLuceRows, node: Any = None, **kwargs: Any) -> Any:
        floor = op.floor

        @numba_njit
        def rows(eta: np.ndarray, running: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            n_rows, n_slots = eta.shape
            logp = np.empty(n_rows)
            dlogp = np.empty((n_rows, n_slots))
            worth = np.empty(n_slots)
            inverse = np.empty(n_slots)
            for r in range(n_rows):
                shift = floor
                for k in range(n_slots):
                    if running[r, k] > 0 and eta[r, k] > shift:
                        shift = eta[r, k]
                remaining = 0.0
                total = 0.0
                for k in range(n_slots - 1, -1, -1):
                    run = running[r, k]
                    worth[k] = np.exp(eta[r, k] - shift) * run if run != 0.0 else 0.0
                    remaining += worth[k]
                    if run != 0.0:
                        denominator = remaining + (1.0 - run)
                        total += run * (eta[r, k] - shift - np.log(denominator))
                        inverse[k] = run / denominator
                    else:
                        inverse[k] = 0.0
                logp[r] = total
                acc = 0.0
                for k in range(n_slots):
                    acc += inverse[k]
                    dlogp[r, k] = running[r, k] - worth[k] * acc
            return logp, dlogp

        return rows, _source_version()


@functools.cache
def register_jax() -> None:
    """JAX kernel for nutpie's JAX backend: the same two passes, vectorised over the rows.

    Called by the JAX compile path, not at import: importing PyTensor's JAX dispatch imports jax.

    Unranked slots take ``exp(0)`` before the mask zeroes them, so a large ``eta`` there cannot
    overflow into ``inf * 0``; the gradient comes from ``L_op`` (PyTensor), not from JAX autodiff.
    """
    try:
        from pytensor.link.jax.dispatch import jax_funcify
    except ImportError:  # jax missing: the other backends serve
        return

    @jax_funcify.register(PlackettLuceRows)
    def _jax_rows(op: PlackettLuceRows, node: Any = None, **kwargs: Any) -> Any:
        import jax.numpy as jnp

        floor = op.floor

        def rows(eta: Any, running: Any) -> tuple[Any, Any]:
            ranked = running != 0.0
            shift = jnp.max(jnp.where(running > 0, eta, floor), axis=1, keepdims=True)
            centred = jnp.where(ranked, eta - shift, 0.0)
            worth = jnp.where(ranked, jnp.exp(centred) * running, 0.0)
            remaining = jnp.cumsum(worth[:, ::-1], axis=1)[:, ::-1] + (1.0 - running)
            log_remaining = jnp.where(ranked, jnp.log(remaining), 0.0)
            logp = jnp.sum(jnp.where(ranked, running * (centred - log_remaining), 0.0), axis=1)
            inverse = jnp.cumsum(jnp.where(ranked, running / remaining, 0.0), axis=1)
            return logp, running - worth * inverse

        return rows


_register_numba()
