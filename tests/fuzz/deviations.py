"""The deliberate differences from torch that docs/ops.md documents ("Deliberate differences from
torch"), as predicates on a drawn case: the fuzzer accepts exactly these and nothing else.

The predicates live by family (deviations_layers.py: embedding_bag, pad, poolings, attention;
deviations_resample.py: interpolate; deviations_activations.py; deviations_losses.py;
deviations_norms.py). Each returns its documented reason or None; the entry points below ask them
in the fixed order of the lists and return the first reason."""

from __future__ import annotations

from . import deviations_activations as activations
from . import deviations_layers as layers
from . import deviations_losses as losses
from . import deviations_norms as norms
from . import deviations_resample as resample
from . import rounding

# ours raises, torch does not: predicate(case, ours' error)
_OURS_RAISES = [
    layers.embedding_bag_decreasing_offsets, layers.circular_pad_wraps, losses.negative_label_smoothing,
    activations.inplace_negative_slope, norms.batch_norm_overlapping_stats, norms.batch_norm_empty_misfit,
    losses.linear_cross_entropy_bias_dtype,
]
# torch raises, ours does not: predicate(case, torch's error)
_TORCH_RAISES = [norms.local_response_norm_half, norms.local_response_norm_view]
# torch's backward raises, ours does not: predicate(case, torch's message)
_TORCH_BACKWARD_RAISES = [
    layers.adaptive_pool_to_empty, layers.max_unpool_non_contiguous_indices, resample.area_to_empty,
    norms.group_norm_bias_only, norms.layer_norm_half_float_bias, losses.nll_empty_spatial_uint8_target,
    losses.nll_non_contiguous, losses.huber_target_dtype, resample.antialias_half,
]
# any disagreement: predicate(case, ours, theirs, found)
_DISAGREEMENTS = [
    losses.margin_empty_batch, losses.ctc_strided_targets, losses.ctc_non_finite, layers.attention_math_backend, layers.attention_keyless,
    layers.embedding_bag_past_last_offset, layers.max_unpool_repeated_indices, resample.torch_wrong, norms.batch_stats_overflow,
    norms.infinite_weight_output, norms.batch_mean_residue,
]
# only gradients disagree: predicate(case, ours, theirs, the 'grad i' names)
_GRADIENTS = [
    layers.pad_to_empty, layers.embedding_bag_scale_grad_by_freq, norms.batch_norm_non_contiguous,
    norms.constant_row_variance, norms.layer_norm_constant_row_weight, norms.infinite_weight_input,
    norms.group_norm_empty_spatial, activations.formula_gradient, norms.tiny_statistics,
    norms.undefined_weight_gradient, norms.local_response_norm_infinite_window, layers.attention_softmax_residue,
]


def _first(predicates, *args) -> str | None:
    """The first reason a predicate gives, in the list's order (later ones are not asked)."""
    for predicate in predicates:
        why = predicate(*args)
        if why:
            return why
    return None


def torch_crashes(case) -> str | None:
    """Why torch must not run on ``case`` at all (its kernel segfaults), or None. Ours must then
    raise or give an empty result with zero gradients."""
    return layers.embedding_bag_crashes(case)


def torch_crashes_exact(case) -> str | None:
    """Why torch must not run on ``case`` (its kernel segfaults) while ours computes it, or None:
    ours is then compared with float64 alone (rounded to ours' dtype)."""
    return layers.conv_half_channels_last_padding_windows(case)


def torch_backward_skipped(case) -> str | None:
    """Why torch's backward must not run on ``case`` (it would write out of bounds or crash), or None."""
    return norms.group_norm_channels_last(case) or layers.max_pool_padding_windows(case)


def accepted(case, ours_error, theirs_error) -> str | None:
    """The documented reason (docs/ops.md) when ours raising or returning differently from torch on ``case`` is a
    documented deliberate difference, else None. Errors are ``(phase, type, message)`` or None."""
    if ours_error and not theirs_error:
        why = _first(_OURS_RAISES, case, ours_error)
        if why:
            return why
    if theirs_error and not ours_error:
        why = _first(_TORCH_RAISES, case, theirs_error)
        if why:
            return why
    if theirs_error and not ours_error and theirs_error[0] == "backward":
        return _first(_TORCH_BACKWARD_RAISES, case, theirs_error[2])
    return None


def accepted_gradients(case, ours, theirs, found) -> str | None:
    """The documented reason (docs/ops.md) when the gradient disagreements ``found`` (``(class, detail)``) between
    ``ours`` and ``theirs`` (compare.Side, both returned) are a documented deliberate difference,
    else None. Each predicate looks at the values, not only at the case, and names the gradient."""
    why = _first(_DISAGREEMENTS, case, ours, theirs, found)
    if why:
        return why
    if not found or {c for c, _ in found} != {"gradient"}:
        return None
    grads = {d.split(":")[0] for _, d in found}  # 'grad i': i counts the differentiable inputs
    why = _first(_GRADIENTS, case, ours, theirs, grads)
    if why:
        return why
    from .ops import OPS
    if rounding.expanded_view_grads_agree(case, ours, grads, *OPS[case.op].pair):
        return "the gradient of an expanded input sums its view's, which agree: the sum cancels to a rounding residue"
    if rounding.broadcast_input_grads_agree(case, ours, grads, *OPS[case.op].pair):
        return "the gradient of a broadcast input sums its elements', which agree: the sum cancels to a rounding residue"
    return None
