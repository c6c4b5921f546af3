"""THE op table: one entry per op, which drives ``tests/test_ops.py``, ``manualgrad verify`` and
``manualgrad bench``. Adding an op means one ``OpSpec`` here and one sample generator in
``manualgrad/samples/<family>.py``.
"""

from __future__ import annotations

import functools
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
from .functions import conv_transpose as _conv_t
from .functions import fold as _fold
from .functions import cross_entropy as _ce
from .functions import dropout as _dropout
from .functions import elementwise as _elementwise
from .functions import elementwise_binary as _elementwise_binary
from .functions import embedding as _embedding
from .functions import embedding_bag as _embedding_bag
from .functions import linear as _linear
from .functions import bilinear as _bilinear
from .functions import linear_cross_entropy as _lce
from .functions import matmul as _matmul
from .functions import nll as _nll
from .functions import norms as _norms
from .functions import local_response_norm as _lrn
from .functions import pooling as _pool
from .functions import pooling_adaptive as _pool_a
from .functions import reductions as _reductions
from .functions import regression_losses as _regression
from .functions import regularization as _reg_fn
from .functions import softmax as _softmax
from .functions import resample as _resample
from .functions import padding as _padding
from .functional import _rnn as _rnn_driver
from .functions import rnn_gru as _rnn_gru, rnn_lstm as _rnn_lstm, rnn_tanh as _rnn_tanh
from .samples import ErrorSample, Sample
from .samples import rnn as s_rnn
from .functions import ctc as _ctc
from .functions import distances as _dist
from .functions import margin_losses as _margin
from .functions import probabilistic_losses as _prob
from .samples import activations as s_act
from .samples import activations_more as s_act_more
from .samples import attention as s_attn
from .samples import conv as s_conv
from .samples import conv_transpose as s_conv_t
from .samples import fold as s_fold
from .samples import cross_entropy as s_ce
from .samples import ctc as s_ctc
from .samples import distances as s_dist
from .samples import dropout as s_dropout
from .samples import dropout_more as s_dropout_more
from .samples import elementwise as s_elementwise
from .samples import embedding as s_embedding
from .samples import embedding_bag as s_embedding_bag
from .samples import linear as s_linear
from .samples import bilinear as s_bilinear
from .samples import linear_cross_entropy as s_lce
from .samples import losses as s_losses
from .samples import margin_losses as s_margin
from .samples import matmul as s_matmul
from .samples import norm as s_norm
from .samples import norm_more as s_norm_more
from .samples import pooling as s_pool
from .samples import pooling_nd as s_pool_nd
from .samples import probabilistic_losses as s_prob
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
           _pool.MaxPoolFunction, s_pool.max_pool2d, s_pool.max_pool2d_errors),
    OpSpec("avg_pool2d", MF.avg_pool2d, F.avg_pool2d, _pool.AvgPoolFunction,
           s_pool.avg_pool2d, s_pool.avg_pool2d_errors),
    OpSpec("adaptive_avg_pool2d", MF.adaptive_avg_pool2d, F.adaptive_avg_pool2d, _pool_a.AdaptiveAvgPoolFunction,
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

# pooling, 1-d and 3-d, adaptive max, lp_pool, max_unpool (functions/pooling*.py, samples/pooling_nd.py)
_values = s_pool.values_only
OPS += [
    *[OpSpec(f"max_pool{n}d", _values(getattr(MF, f"max_pool{n}d")), _values(getattr(F, f"max_pool{n}d")),
             _pool.MaxPoolFunction, s_pool_nd.max_pool(n), s_pool_nd.window_errors(n)) for n in (1, 3)],
    *[OpSpec(f"avg_pool{n}d", getattr(MF, f"avg_pool{n}d"), getattr(F, f"avg_pool{n}d"),
             _pool.AvgPoolFunction, s_pool_nd.avg_pool(n), s_pool_nd.window_errors(n)) for n in (1, 3)],
    *[OpSpec(f"adaptive_avg_pool{n}d", getattr(MF, f"adaptive_avg_pool{n}d"), getattr(F, f"adaptive_avg_pool{n}d"),
             _pool_a.AdaptiveAvgPoolFunction, s_pool_nd.adaptive(n), s_pool_nd.adaptive_errors(n)) for n in (1, 3)],
    *[OpSpec(f"adaptive_max_pool{n}d", _values(getattr(MF, f"adaptive_max_pool{n}d")),
             _values(getattr(F, f"adaptive_max_pool{n}d")), _pool_a.AdaptiveMaxPoolFunction,
             s_pool_nd.adaptive_max(n), s_pool_nd.adaptive_errors(n)) for n in (1, 2, 3)],
    *[OpSpec(f"lp_pool{n}d", getattr(MF, f"lp_pool{n}d"), getattr(F, f"lp_pool{n}d"), _elementwise_binary.PowFunction,
             s_pool_nd.lp_pool(n), s_pool_nd.lp_pool_errors(n)) for n in (1, 2, 3)],
    *[OpSpec(f"max_unpool{n}d", getattr(MF, f"max_unpool{n}d"), getattr(F, f"max_unpool{n}d"),
             _pool_a.MaxUnpoolFunction, s_pool_nd.max_unpool(n), s_pool_nd.max_unpool_errors(n)) for n in (1, 2, 3)],
]

# instance_norm (batch_norm of N·C channels), local_response_norm (samples/norm_more.py)
OPS += [
    OpSpec("instance_norm", s_norm.fresh_running_stats(MF.instance_norm), s_norm.fresh_running_stats(F.instance_norm),
           _batch_norm.InstanceNormFunction, s_norm_more.instance_norm, s_norm_more.instance_norm_errors),
    OpSpec("local_response_norm", MF.local_response_norm, F.local_response_norm, _lrn.LocalResponseNormFunction,
           s_norm_more.local_response_norm, s_norm_more.local_response_norm_errors),
]

# bilinear (functions/bilinear.py)
OPS += [OpSpec("bilinear", MF.bilinear, F.bilinear, _bilinear.BilinearFunction, s_bilinear.samples, s_bilinear.errors)]

# embedding_bag (functions/embedding_bag.py)
OPS += [OpSpec("embedding_bag", MF.embedding_bag, F.embedding_bag, _embedding_bag.EmbeddingBagFunction,
               s_embedding_bag.samples, s_embedding_bag.errors)]

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

# channel-wise and alpha dropout (functions/dropout.py, samples/dropout_more.py)
OPS += [
    OpSpec("dropout1d", MF.dropout1d, s_dropout_more.reference("dropout1d"), _dropout.DropoutFunction,
           s_dropout_more.feature((5,)), s_dropout_more.dropout1d_errors, seeded=True),
    OpSpec("dropout2d", MF.dropout2d, s_dropout_more.reference("dropout2d"), _dropout.DropoutFunction,
           s_dropout_more.feature((4, 3)), s_dropout_more.errors, seeded=True),
    OpSpec("dropout3d", MF.dropout3d, s_dropout_more.reference("dropout3d"), _dropout.DropoutFunction,
           s_dropout_more.feature((2, 3, 2)), s_dropout_more.errors, seeded=True),
    OpSpec("alpha_dropout", MF.alpha_dropout, s_dropout_more.reference("alpha_dropout"), _dropout.AlphaDropoutFunction,
           s_dropout_more.alpha(0), s_dropout_more.errors, seeded=True),
    OpSpec("feature_alpha_dropout", MF.feature_alpha_dropout, s_dropout_more.reference("feature_alpha_dropout"),
           _dropout.AlphaDropoutFunction, s_dropout_more.alpha(2), s_dropout_more.errors, seeded=True),
]

# resampling and padding (functions/resample.py, functions/padding.py)
OPS += [
    OpSpec("interpolate", MF.interpolate, F.interpolate, _resample.InterpolateFunction,
           s_resample.interpolate, s_resample.interpolate_errors),
    OpSpec("pad", MF.pad, F.pad, _padding.PadFunction, s_padding.pad, s_padding.pad_errors),
]

# convolution family: conv3d, the transposed convolutions, fold/unfold (im2col/col2im).
# 3-d float32: db and dw sum ~1000 terms in another order than torch's oneDNN deconvolution; both
# are within float32 rounding of float64 (the '1x1 kernel, stride 2' sample's db: torch's 5.9e-6
# off, ours 4.5e-6), 2.4e-6 apart relative, over assert_close's 1.3e-6.
_CONV_T_TOL = {3: {torch.float32: (1e-5, 1e-5)}}
OPS += [
    OpSpec("conv3d", MF.conv3d, F.conv3d, _conv.ConvFunction, s_conv.conv3d_samples, s_conv.conv3d_errors),
    *[OpSpec(f"conv_transpose{n}d", getattr(MF, f"conv_transpose{n}d"), getattr(F, f"conv_transpose{n}d"),
             _conv_t.ConvTransposeFunction, getattr(s_conv_t, f"conv_transpose{n}d_samples"),
             getattr(s_conv_t, f"conv_transpose{n}d_errors"), tol=_CONV_T_TOL.get(n, {})) for n in (1, 2, 3)],
    OpSpec("unfold", MF.unfold, F.unfold, _fold.UnfoldFunction, s_fold.unfold, s_fold.unfold_errors),
    OpSpec("fold", MF.fold, F.fold, _fold.FoldFunction, s_fold.fold, s_fold.fold_errors),
]

# distances, margin and likelihood losses, CTC (issue 15): one entry per functional op
OPS += [
    OpSpec("pairwise_distance", MF.pairwise_distance, F.pairwise_distance, _dist.PairwiseDistanceFunction,
           s_dist.pairwise_distance, s_dist.pairwise_distance_errors),
    OpSpec("cosine_similarity", MF.cosine_similarity, F.cosine_similarity, _dist.CosineSimilarityFunction,
           s_dist.cosine_similarity, s_dist.cosine_similarity_errors),
    OpSpec("normalize", MF.normalize, F.normalize, _dist.NormalizeFunction, s_dist.normalize, s_dist.normalize_errors),
    *[OpSpec(name, getattr(MF, name), getattr(F, name), function, s_margin.SAMPLES[name], s_margin.ERRORS[name])
      for name, function in [("margin_ranking_loss", _margin.MarginRankingLossFunction),
                             ("hinge_embedding_loss", _margin.HingeEmbeddingLossFunction),
                             ("soft_margin_loss", _margin.SoftMarginLossFunction),
                             ("cosine_embedding_loss", _margin.CosineEmbeddingLossFunction),
                             ("multi_margin_loss", _margin.MultiMarginLossFunction),
                             ("multilabel_margin_loss", _margin.MultiLabelMarginLossFunction),
                             ("triplet_margin_loss", _margin.TripletMarginLossFunction),
                             ("triplet_margin_with_distance_loss", _margin.TripletMarginLossFunction)]],
    *[OpSpec(name, getattr(MF, name), getattr(F, name), function, s_prob.SAMPLES[name], s_prob.ERRORS[name])
      for name, function in [("kl_div", _prob.KLDivFunction),
                             ("poisson_nll_loss", _prob.PoissonNLLLossFunction),
                             ("gaussian_nll_loss", _prob.GaussianNLLLossFunction),
                             ("multilabel_soft_margin_loss", _prob.MultiLabelSoftMarginLossFunction)]],
    OpSpec("ctc_loss", s_ctc.of_logits(MF.ctc_loss, MF.log_softmax), s_ctc.of_logits(F.ctc_loss, F.log_softmax),
           _ctc.CTCLossFunction, s_ctc.samples, s_ctc.errors),
]

# recurrent family: the multi-layer driver vs torch._VF.<mode>, one entry per output, and the cells

_RNN_FUNCTION = {"RNN_TANH": _rnn_tanh.RNNFunction, "RNN_RELU": _rnn_tanh.RNNFunction,
                 "LSTM": _rnn_lstm.LSTMFunction, "GRU": _rnn_gru.GRUFunction}
_RNN_OUTPUTS = {"RNN_TANH": ("", ".h_n"), "RNN_RELU": ("", ".h_n"), "LSTM": ("", ".h_n", ".c_n"), "GRU": ("", ".h_n")}
_CELL_OUTPUTS = {"RNN_TANH": ("",), "RNN_RELU": ("",), "LSTM": (".h", ".c"), "GRU": ("",)}
OPS += [
    *[OpSpec(mode.lower() + suffix, s_rnn.table_op(_rnn_driver.rnn, mode, k), s_rnn.table_op(s_rnn.torch_rnn, mode, k),
             _RNN_FUNCTION[mode], functools.partial(s_rnn.samples, mode, k), functools.partial(s_rnn.errors, mode),
             seeded=True)
      for mode, suffixes in _RNN_OUTPUTS.items() for k, suffix in enumerate(suffixes)],
    *[OpSpec(mode.lower() + "_cell" + suffix, s_rnn.cell_op(mode, k, True), s_rnn.cell_op(mode, k, False),
             _RNN_FUNCTION[mode], functools.partial(s_rnn.cell_samples, mode),
             functools.partial(s_rnn.cell_errors, mode))
      for mode, suffixes in _CELL_OUTPUTS.items() for k, suffix in enumerate(suffixes)],
]

# arithmetic, what strict routing sends to manualgrad (functions/arithmetic.py, samples/arithmetic.py)
from .functions import arithmetic as _arithmetic  # noqa: E402
from .samples import arithmetic as s_arithmetic  # noqa: E402

OPS += [
    OpSpec("add", _math.add, torch.add, _arithmetic.AddFunction, s_arithmetic.add, s_arithmetic.add_errors),
    OpSpec("sub", _math.sub, torch.sub, _arithmetic.AddFunction, s_arithmetic.sub, s_arithmetic.sub_errors),
    OpSpec("mul", _math.mul, torch.mul, _arithmetic.MulFunction, s_arithmetic.mul, s_arithmetic.binary_errors),
    OpSpec("div", _math.div, torch.div, _arithmetic.DivFunction, s_arithmetic.div, s_arithmetic.binary_errors),
    OpSpec("neg", _math.neg, torch.neg, _arithmetic.NegFunction, s_arithmetic.neg, s_arithmetic.neg_errors),
    OpSpec("addcmul", _math.addcmul, torch.addcmul, _arithmetic.AddcFunction, s_arithmetic.addcmul,
           s_arithmetic.addcmul_errors),
    OpSpec("addcdiv", _math.addcdiv, torch.addcdiv, _arithmetic.AddcFunction, s_arithmetic.addcdiv,
           s_arithmetic.addcdiv_errors),
]

OPS_BY_NAME = {spec.name: spec for spec in OPS}
assert len(OPS_BY_NAME) == len(OPS), "duplicate op names in the table"


def get(name: str) -> OpSpec:
    """The spec of the op called ``name`` (as in ``torch.nn.functional``)."""
    try:
        return OPS_BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown op {name!r}; known ops: {', '.join(OPS_BY_NAME)}") from None
