"""THE op table: one entry per op, which drives ``tests/test_ops.py``, ``manualgrad verify`` and
``manualgrad bench``. Adding an op means one ``OpSpec`` here and one sample generator in
``manualgrad/samples/<family>.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
import torch.nn.functional as F

from . import functional as MF
from . import math as _math
from . import regularization as _reg
from .functions import activations as _act
from .functions import activations_piecewise as _act_pw
from .functions import activations_sigmoidal as _act_sig
from .functions import activations_slopes as _act_slopes
from .functions import attention as _attn
from .functions import batch_norm as _batch_norm
from .functions import binary_losses as _binary
from .functions import conv as _conv
from .functions import cross_entropy as _ce
from .functions import dropout as _dropout
from .functions import elementwise as _elementwise
from .functions import elementwise_binary as _elementwise_binary
from .functions import embedding as _embedding
from .functions import linear as _linear
from .functions import linear_cross_entropy as _lce
from .functions import matmul as _matmul
from .functions import nll as _nll
from .functions import norms as _norms
from .functions import pooling as _pool
from .functions import reductions as _reductions
from .functions import regression_losses as _regression
from .functions import regularization as _reg_fn
from .functions import softmax as _softmax
from .functions import resample as _resample
from .functions import padding as _padding
from .samples import ErrorSample, Sample
from .samples import activations as s_act
from .samples import activations_more as s_act_more
from .samples import attention as s_attn
from .samples import conv as s_conv
from .samples import cross_entropy as s_ce
from .samples import dropout as s_dropout
from .samples import elementwise as s_elementwise
from .samples import embedding as s_embedding
from .samples import linear as s_linear
from .samples import linear_cross_entropy as s_lce
from .samples import losses as s_losses
from .samples import matmul as s_matmul
from .samples import norm as s_norm
from .samples import pooling as s_pool
from .samples import reductions as s_red
from .samples import regularization as s_reg
from .samples import resample as s_resample
from .samples import padding as s_padding


@dataclass
class OpSpec:
    """One op: ``op`` (ours) must equal ``ref`` (torch) on every sample.

    ``function``: the autograd.Function whose backward node must be the output's ``grad_fn``.
    ``tol``: ``{dtype: (rtol, atol)}`` overrides of ``torch.testing.assert_close`` defaults.
    ``skips``: ``{check: reason}`` for checks that do not apply (documented, shown by verify).
    ``seeded``: the op draws random numbers; both sides run from the same seed.
    """

    name: str
    op: Callable
    ref: Callable
    function: type
    samples: Callable[[torch.device, torch.dtype], Iterable[Sample]]
    errors: Callable[[torch.device], Iterable[ErrorSample]] = lambda device: ()
    tol: dict = field(default_factory=dict)
    skips: dict = field(default_factory=dict)
    seeded: bool = False

    def tolerance(self, dtype: torch.dtype) -> dict:
        """Keyword arguments for ``torch.testing.assert_close`` at ``dtype``."""
        if dtype in self.tol:
            rtol, atol = self.tol[dtype]
            return {"rtol": rtol, "atol": atol}
        return {}


def _dropout_reference(input, p=0.5, training=True, inplace=False):
    """Dropout written with torch autograd ops, drawing its mask exactly as ours does (on CPU it
    equals ``F.dropout`` under the same seed; tests/test_dropout.py checks that)."""
    if not 0 <= p <= 1:
        return F.dropout(input, p, training, inplace)  # torch's own error
    if not training or p == 0:
        return input
    noise = torch.empty_like(input).bernoulli_(1 - p)
    return input * noise.div_(1 - p) if p < 1 else input * 0


def _lce_reference(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                   ignore_index=None, label_smoothing=0.0, options=None):
    """torch's unchunked reference: ``F.linear_cross_entropy`` without ``options`` (cross_entropy
    of the full logits) where torch has it, else that composite written out."""
    if hasattr(F, "linear_cross_entropy"):
        return F.linear_cross_entropy(input, linear_weight, target, linear_bias=linear_bias, weight=weight,
                                      reduction=reduction, ignore_index=ignore_index,
                                      label_smoothing=label_smoothing)
    n_classes, out = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    shape = (*input.shape[:-1], n_classes, *out)
    bias = None if linear_bias is None else linear_bias.reshape(-1)
    logits = F.linear(input, linear_weight.reshape(-1, input.shape[-1]), bias).reshape(shape)
    if ignore_index is not None and tuple(target.shape) == shape:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    return F.cross_entropy(logits, target, weight=weight, reduction=reduction,
                           ignore_index=-100 if ignore_index is None else ignore_index, label_smoothing=label_smoothing)


OPS: list[OpSpec] = [
    OpSpec("linear", MF.linear, F.linear, _linear.LinearFunction,
           s_linear.samples, s_linear.errors),
    OpSpec("dropout", MF.dropout, _dropout_reference, _dropout.DropoutFunction,
           s_dropout.samples, s_dropout.errors, seeded=True),
    OpSpec("relu", MF.relu, F.relu, _act.ReLUFunction, s_act.relu, s_act.inplace_leaf_errors),
    OpSpec("leaky_relu", MF.leaky_relu, F.leaky_relu, _act.LeakyReLUFunction, s_act.leaky_relu,
           s_act.leaky_relu_errors),
    OpSpec("elu", MF.elu, F.elu, _act.ELUFunction, s_act.elu, s_act.elu_errors),
    OpSpec("gelu", MF.gelu, F.gelu, _act.GELUFunction, s_act.gelu, s_act.gelu_errors),
    OpSpec("silu", MF.silu, F.silu, _act.SiLUFunction, s_act.silu, s_act.inplace_leaf_errors),
    OpSpec("softplus", MF.softplus, F.softplus, _act.SoftplusFunction, s_act.softplus),
    OpSpec("sigmoid", MF.sigmoid, torch.sigmoid, _act.SigmoidFunction, s_act.sigmoid),
    OpSpec("tanh", MF.tanh, torch.tanh, _act.TanhFunction, s_act.tanh),
    OpSpec("softmax", MF.softmax, F.softmax, _softmax.SoftmaxFunction, s_act.softmax),
    OpSpec("log_softmax", MF.log_softmax, F.log_softmax, _softmax.LogSoftmaxFunction, s_act.log_softmax),
    OpSpec("mse_loss", MF.mse_loss, F.mse_loss, _regression.MSELossFunction,
           s_losses.SAMPLES["mse_loss"], s_losses.ERRORS["mse_loss"]),
    OpSpec("l1_loss", MF.l1_loss, F.l1_loss, _regression.L1LossFunction,
           s_losses.SAMPLES["l1_loss"], s_losses.ERRORS["l1_loss"]),
    OpSpec("smooth_l1_loss", MF.smooth_l1_loss, F.smooth_l1_loss, _regression.SmoothL1LossFunction,
           s_losses.SAMPLES["smooth_l1_loss"], s_losses.ERRORS["smooth_l1_loss"]),
    OpSpec("huber_loss", MF.huber_loss, F.huber_loss, _regression.HuberLossFunction,
           s_losses.SAMPLES["huber_loss"], s_losses.ERRORS["huber_loss"]),
    OpSpec("binary_cross_entropy", MF.binary_cross_entropy, F.binary_cross_entropy,
           _binary.BinaryCrossEntropyFunction,
           s_losses.SAMPLES["binary_cross_entropy"], s_losses.ERRORS["binary_cross_entropy"]),
    OpSpec("binary_cross_entropy_with_logits", MF.binary_cross_entropy_with_logits,
           F.binary_cross_entropy_with_logits, _binary.BinaryCrossEntropyWithLogitsFunction,
           s_losses.SAMPLES["binary_cross_entropy_with_logits"],
           s_losses.ERRORS["binary_cross_entropy_with_logits"]),
    OpSpec("nll_loss", MF.nll_loss, F.nll_loss, _nll.NLLLossFunction, s_ce.nll_samples, s_ce.nll_errors),
    OpSpec("cross_entropy", MF.cross_entropy, F.cross_entropy, _ce.CrossEntropyFunction,
           s_ce.ce_samples, s_ce.ce_errors),
    OpSpec("l1_l2_penalty", _reg.l1_l2_penalty, _reg.reference_penalty, _reg_fn.PenaltyFunction,
           s_reg.samples, s_reg.errors),
    OpSpec("conv1d", MF.conv1d, F.conv1d, _conv.ConvFunction, s_conv.conv1d_samples, s_conv.conv1d_errors),
    OpSpec("conv2d", MF.conv2d, F.conv2d, _conv.ConvFunction, s_conv.conv2d_samples, s_conv.conv2d_errors),
    OpSpec("max_pool2d", s_pool.values_only(MF.max_pool2d), s_pool.values_only(F.max_pool2d),
           _pool.MaxPool2dFunction, s_pool.max_pool2d, s_pool.max_pool2d_errors),
    OpSpec("avg_pool2d", MF.avg_pool2d, F.avg_pool2d, _pool.AvgPool2dFunction,
           s_pool.avg_pool2d, s_pool.avg_pool2d_errors),
    OpSpec("adaptive_avg_pool2d", MF.adaptive_avg_pool2d, F.adaptive_avg_pool2d, _pool.AdaptiveAvgPool2dFunction,
           s_pool.adaptive_avg_pool2d, s_pool.adaptive_avg_pool2d_errors),
    OpSpec("batch_norm", s_norm.fresh_running_stats(MF.batch_norm), s_norm.fresh_running_stats(F.batch_norm),
           _batch_norm.BatchNormFunction, s_norm.batch_norm, s_norm.batch_norm_errors),
    OpSpec("layer_norm", MF.layer_norm, F.layer_norm, _norms.LayerNormFunction,
           s_norm.layer_norm, s_norm.layer_norm_errors),
    OpSpec("group_norm", MF.group_norm, F.group_norm, _norms.GroupNormFunction,
           s_norm.group_norm, s_norm.group_norm_errors),
    OpSpec("rms_norm", MF.rms_norm, F.rms_norm, _norms.RMSNormFunction, s_norm.rms_norm, s_norm.rms_norm_errors),
    OpSpec("embedding", s_embedding.fresh_weight(MF.embedding), s_embedding.fresh_weight(F.embedding),
           _embedding.EmbeddingFunction, s_embedding.samples, s_embedding.errors),
    OpSpec("linear_cross_entropy", MF.linear_cross_entropy, _lce_reference, _lce.LinearCrossEntropyFunction,
           s_lce.samples, s_lce.errors),
    OpSpec("scaled_dot_product_attention", MF.scaled_dot_product_attention, s_attn.sdpa_reference,
           _attn.ScaledDotProductAttentionFunction, s_attn.samples, s_attn.errors, seeded=True),
]

MATH_OPS = [
    OpSpec("matmul", _math.matmul, torch.matmul, _matmul.MatmulFunction, s_matmul.matmul, s_matmul.matmul_errors),
    OpSpec("mm", _math.mm, torch.mm, _matmul.MatmulFunction, s_matmul.mm, s_matmul.mm_errors),
    OpSpec("bmm", _math.bmm, torch.bmm, _matmul.MatmulFunction, s_matmul.bmm, s_matmul.bmm_errors),
    OpSpec("addmm", _math.addmm, torch.addmm, _matmul.AddmmFunction, s_matmul.addmm, s_matmul.addmm_errors),
    OpSpec("baddbmm", _math.baddbmm, torch.baddbmm, _matmul.AddmmFunction, s_matmul.baddbmm,
           s_matmul.baddbmm_errors),
    *[OpSpec(name, getattr(_math, name), getattr(torch, name), getattr(_elementwise, cls),
             getattr(s_elementwise, name))
      for name, cls in [("exp", "ExpFunction"), ("expm1", "Expm1Function"), ("log", "LogFunction"),
                        ("log1p", "Log1pFunction"), ("sqrt", "SqrtFunction"), ("rsqrt", "RsqrtFunction"),
                        ("reciprocal", "ReciprocalFunction"), ("sin", "SinFunction"), ("cos", "CosFunction"),
                        ("abs", "AbsFunction")]],
    OpSpec("pow", _math.pow, torch.pow, _elementwise_binary.PowFunction, s_elementwise.pow,
           s_elementwise.pow_errors),
    OpSpec("clamp", _math.clamp, torch.clamp, _elementwise_binary.ClampFunction, s_elementwise.clamp,
           s_elementwise.clamp_errors),
    OpSpec("minimum", _math.minimum, torch.minimum, _elementwise_binary.MinMaxFunction, s_elementwise.minimum,
           s_elementwise.min_max_errors),
    OpSpec("maximum", _math.maximum, torch.maximum, _elementwise_binary.MinMaxFunction, s_elementwise.maximum,
           s_elementwise.min_max_errors),
    OpSpec("where", _math.where, torch.where, _elementwise_binary.WhereFunction, s_elementwise.where,
           s_elementwise.where_errors),
]


_first, _second = s_red.first, s_red.second
REDUCTION_OPS = [
    OpSpec("sum", _math.sum, torch.sum, _reductions.SumFunction, s_red.sum, s_red.dim_errors),
    OpSpec("mean", _math.mean, torch.mean, _reductions.SumFunction, s_red.mean, s_red.var_errors),
    OpSpec("var", _math.var, torch.var, _reductions.VarMeanFunction, s_red.var, s_red.var_errors),
    OpSpec("std", _math.std, torch.std, _reductions.VarMeanFunction, s_red.std, s_red.var_errors),
    OpSpec("var_mean.mean", _second(_math.var_mean), _second(torch.var_mean), _reductions.VarMeanFunction,
           s_red.var_mean, s_red.var_errors),
    OpSpec("std_mean.mean", _second(_math.std_mean), _second(torch.std_mean), _reductions.VarMeanFunction,
           s_red.var_mean),
    OpSpec("amax", _math.amax, torch.amax, _reductions.AmaxFunction, s_red.amax, s_red.amax_errors),
    OpSpec("amin", _math.amin, torch.amin, _reductions.AmaxFunction, s_red.amin, s_red.amax_errors),
    OpSpec("max", _first(_math.max), _first(torch.max), _reductions.MaxDimFunction, s_red.max_dim,
           s_red.max_dim_errors),
    OpSpec("min", _first(_math.min), _first(torch.min), _reductions.MaxDimFunction, s_red.max_dim,
           s_red.max_dim_errors),
    OpSpec("max.all", _math.max, torch.max, _reductions.AmaxFunction, s_red.max_all),
    OpSpec("logsumexp", _math.logsumexp, torch.logsumexp, _reductions.LogsumexpFunction, s_red.logsumexp,
           s_red.dim_errors),
    OpSpec("cumsum", _math.cumsum, torch.cumsum, _reductions.CumsumFunction, s_red.cumsum, s_red.dim_errors),
    OpSpec("linalg.vector_norm", _math.linalg.vector_norm, torch.linalg.vector_norm,
           _reductions.VectorNormFunction, s_red.vector_norm, s_red.vector_norm_errors),
]
OPS += MATH_OPS + REDUCTION_OPS

# activations beyond relu/elu/gelu/...: piecewise-linear, slopes, sigmoidal, selu/celu, softmin
OPS += [
    OpSpec("hardtanh", MF.hardtanh, F.hardtanh, _act_pw.HardtanhFunction, s_act_more.hardtanh,
           s_act_more.hardtanh_errors),
    OpSpec("relu6", MF.relu6, F.relu6, _act_pw.HardtanhFunction, s_act_more.relu6, s_act.inplace_leaf_errors),
    OpSpec("hardsigmoid", MF.hardsigmoid, F.hardsigmoid, _act_pw.HardsigmoidFunction, s_act_more.hardsigmoid,
           s_act.inplace_leaf_errors),
    OpSpec("hardswish", MF.hardswish, F.hardswish, _act_pw.HardswishFunction, s_act_more.hardswish,
           s_act.inplace_leaf_errors),
    OpSpec("threshold", MF.threshold, F.threshold, _act_pw.ThresholdFunction, s_act_more.threshold),
    OpSpec("softshrink", MF.softshrink, F.softshrink, _act_pw.ShrinkFunction, s_act_more.softshrink,
           s_act_more.softshrink_errors),
    OpSpec("hardshrink", MF.hardshrink, F.hardshrink, _act_pw.ShrinkFunction, s_act_more.hardshrink),
    OpSpec("prelu", MF.prelu, F.prelu, _act_slopes.PReLUFunction, s_act_more.prelu, s_act_more.prelu_errors),
    OpSpec("rrelu", MF.rrelu, s_act_more.rrelu_reference, _act_slopes.RReLUFunction, s_act_more.rrelu,
           s_act_more.rrelu_errors, seeded=True),
    OpSpec("selu", MF.selu, F.selu, _act.ELUFunction, s_act_more.selu, s_act.inplace_leaf_errors),
    OpSpec("celu", MF.celu, F.celu, _act.ELUFunction, s_act_more.celu, s_act_more.celu_errors),
    OpSpec("mish", MF.mish, F.mish, _act_sig.MishFunction, s_act_more.mish, s_act.inplace_leaf_errors),
    OpSpec("logsigmoid", MF.logsigmoid, F.logsigmoid, _act_sig.LogSigmoidFunction, s_act_more.logsigmoid),
    OpSpec("softsign", MF.softsign, F.softsign, _act_sig.SoftsignFunction, s_act_more.softsign),
    OpSpec("tanhshrink", MF.tanhshrink, F.tanhshrink, _act_sig.TanhshrinkFunction, s_act_more.tanhshrink),
    OpSpec("glu", MF.glu, F.glu, _act_sig.GLUFunction, s_act_more.glu, s_act_more.glu_errors),
    OpSpec("softmin", MF.softmin, F.softmin, _softmax.SoftminFunction, s_act_more.softmin, s_act_more.softmin_errors),
]

# resampling and padding (functions/resample.py, functions/padding.py)
OPS += [
    OpSpec("interpolate", MF.interpolate, F.interpolate, _resample.InterpolateFunction,
           s_resample.interpolate, s_resample.interpolate_errors),
    OpSpec("pad", MF.pad, F.pad, _padding.PadFunction, s_padding.pad, s_padding.pad_errors),
]

OPS_BY_NAME = {spec.name: spec for spec in OPS}
assert len(OPS_BY_NAME) == len(OPS), "duplicate op names in the table"


def get(name: str) -> OpSpec:
    """The spec of the op called ``name`` (as in ``torch.nn.functional``)."""
    try:
        return OPS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(OPS_BY_NAME)}") from None
