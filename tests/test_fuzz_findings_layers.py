"""What the differential fuzzer (tests/test_fuzz.py) found in embedding_bag and interpolate: each
reproducer through the fuzzer's own comparison, and the behaviour it pinned down."""

import pytest
import torch
import torch.nn.functional as F

import manualgrad.functional as MF
from fuzz import Case, T, check

EMPTY_MAX = Case('embedding_bag', (T((0,), dtype='int64', values='index', seed=2, grad=False, high=0),
                                   T((0, 3), dtype='float16', layout='transposed', values='wide', seed=2),
                                   T((2,), dtype='int64', values='offsets', seed=2, grad=False, high=1)),
                 {'mode': 'max', 'include_last_offset': True, 'scale_grad_by_freq': False})
PADDING_WEIGHTS = Case('embedding_bag', (T((3,), dtype='int64', layout='strided', values='index', seed=234, grad=False, high=1),
                                         T((1, 4), dtype='float32', layout='strided', values='special', seed=187),
                                         T((2,), dtype='int64', values='offsets', grad=False, high=4)),
                       {'mode': 'sum', 'include_last_offset': True, 'padding_idx': -1,
                        'per_sample_weights': T((3,), dtype='float32', layout='strided', values='special', seed=187, grad=False)})
OFFSETS_PAST_END = Case('embedding_bag', (T((1,), dtype='int64', layout='expanded', values='index', seed=1234, grad=False, high=1),
                                          T((0, 0), dtype='float64', layout='expanded', seed=4818, grad=False),
                                          T((4,), dtype='int64', values='index', seed=17473, grad=False, high=4)),
                        {'mode': 'max', 'include_last_offset': True, 'scale_grad_by_freq': False})
# uint8, antialiased, output width 1: ours took its float route (H and W swapped), on which
# torch's uint8 AVX kernel asserts; torch's own call is right for uint8
UINT8_ANTIALIAS_WIDTH_1 = Case('interpolate', (T((2, 3, 2, 2), dtype='uint8', layout='transposed', values='kinks', seed=575, grad=False),),
                               {'mode': 'bicubic', 'scale_factor': (0.75, 0.75), 'recompute_scale_factor': None,
                                'align_corners': None, 'antialias': True})
# bf16 nearest with a scale factor that keeps the size: torch's CPU backward copies (not the adjoint
# of its forward), ours is the adjoint; in bf16 the float64 adjoint check must say so
BF16_NEAREST_KEPT_SIZE = Case('interpolate', (T((1, 2, 3), dtype='bfloat16', layout='strided', values='wide', seed=4),),
                              {'mode': 'nearest', 'scale_factor': (1.1,)})


@pytest.mark.parametrize("case", [EMPTY_MAX, PADDING_WEIGHTS, OFFSETS_PAST_END, UINT8_ANTIALIAS_WIDTH_1, BF16_NEAREST_KEPT_SIZE],
                         ids=["empty-max", "padding-weights", "offsets-past-end", "uint8-antialias-width-1",
                              "bf16-nearest-kept-size"])
def test_fuzzer_reproducer(case):
    check(case)


def test_max_of_empty_weight_has_empty_gradient():
    """Empty input and a 0-row weight, one empty bag: the max backward scattered at row 0."""
    w = torch.zeros(0, 3, requires_grad=True)
    y = MF.embedding_bag(torch.zeros(0, dtype=torch.long), w, torch.tensor([0, 0]), mode="max", include_last_offset=True)
    y.sum().backward()
    assert w.grad.shape == (0, 3)


def test_padding_position_weight_does_not_reach_dw():
    """A padding position's inf or NaN per-sample weight: dw ignores it (it was 0·inf = NaN)."""
    idx, offsets = torch.tensor([0, 1, 1]), torch.tensor([0, 3])
    psw = torch.tensor([2.0, float("inf"), float("nan")])
    grads = []
    for f in (MF.embedding_bag, F.embedding_bag):
        w = torch.ones(2, 4, requires_grad=True)
        f(idx, w, offsets, mode="sum", include_last_offset=True, padding_idx=1, per_sample_weights=psw).sum().backward()
        grads.append(w.grad)
    assert grads[0].isfinite().all() and grads[0].equal(grads[1])


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_offsets_past_the_input_raise_torchs_error_first(mode):
    """Decreasing offsets that also run past the input: torch's kernel raises before our
    decreasing-offsets check (IndexError in mean and max, RuntimeError in sum). On one thread:
    torch's threaded sum kernel raises whichever of its two checks a thread meets first (on 2
    threads "Expected i < index_size" about 1 call in 300, else "the last offset value ...")."""
    args = (torch.tensor([0]), torch.zeros(2, 3), torch.tensor([0, 3, 2, 1]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with pytest.raises(Exception) as theirs:
            F.embedding_bag(*args, mode=mode)
        with pytest.raises(theirs.type) as ours:
            MF.embedding_bag(*args, mode=mode)
    finally:
        torch.set_num_threads(threads)
    assert str(ours.value) == str(theirs.value)
