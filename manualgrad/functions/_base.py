"""The base of every manualgrad Function: ``torch.autograd.Function`` with a leaner ``apply``."""

from __future__ import annotations

import torch

from ._transform import no_forward_mode


class Function(torch.autograd.Function):
    """``torch.autograd.Function`` whose ``apply`` skips the Python-side work torch's does for every
    call of a ``setup_context``-style Function (binding default arguments through
    ``inspect.signature``, unwrapping functorch wrappers): about 15 µs per op, the bulk of the
    per-op overhead of a small model. Our forwards take no defaults and the functional wrappers
    pass every argument, so the binding is a no-op; under torch.func transforms or while
    torch.compile traces, torch's own ``apply`` runs unchanged.

    ``torch.func.vmap`` batches forward, setup_context and backward as written
    (``generate_vmap_rule``; see ``_transform.py``). Forward mode needs a ``jvp`` of the
    Function's own: without one, ``jvp`` raises a clear NotImplementedError naming the op.
    """

    generate_vmap_rule = True

    @classmethod
    def jvp(cls, ctx, *tangents):
        raise no_forward_mode(cls)

    @classmethod
    def apply(cls, *args, **kwargs):
        if kwargs or torch._C._are_functorch_transforms_active() or torch.compiler.is_compiling():
            return super().apply(*args, **kwargs)
        return super(torch.autograd.Function, cls).apply(*args)  # torch._C._FunctionBase.apply
