"""Images for TensorBoard drawn straight into uint8 tensors (H, W, 3), with a 3×5 bitmap font: no
plotting library needed. :func:`gradient_flow` (the classic bar chart of mean and max |grad| per
layer, log scale), :func:`confusion_matrix` and :func:`misclassified_grid` (inputs with predicted
and true labels)."""

from __future__ import annotations

import math

import torch

# 3×5 glyphs, rows top to bottom, '1' = ink
_GLYPHS = dict(zip(
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-.:/=|+()%_, ",
    """111101101101111 010110010010111 111001111100111 111001111001111 101101111001001 111100111001111
    111100111101111 111001001010010 111101111101111 111101111001111 010101111101101 110101110101110
    011100100100011 110101101101110 111100110100111 111100110100100 011100101101011 101101111101101
    111010010010111 001001001101010 101101110101101 100100100100111 101111111101101 110101101101101
    010101101101010 110101110100100 010101101110011 110101110101101 011100010001110 111010010010010
    101101101101111 101101101101010 101101111111101 101101010101101 101101010010010 111001010100111
    000000111000000 000000000000010 000010000010000 001001010100100 000111000111000 010010010010010
    000010111010000 010100100100010 010001001001010 101001010100101 000000000000111 000000000010100
    000000000000000""".split()))

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (200, 200, 200)
DARK, LIGHT, RED = (31, 119, 180), (174, 199, 232), (214, 39, 40)


def canvas(height: int, width: int) -> torch.Tensor:
    return torch.full((height, width, 3), 255, dtype=torch.uint8)


def text(img: torch.Tensor, x: int, y: int, s: str, scale: int = 2, color=BLACK) -> int:
    """Draw ``s`` (upper-cased; unknown characters as blanks) with its top-left corner at (x, y);
    returns the x after the last character. Pixels outside ``img`` are clipped."""
    for ch in s.upper():
        bits = _GLYPHS.get(ch, _GLYPHS[" "])
        for i, bit in enumerate(bits):
            if bit == "1":
                r, c = y + (i // 3) * scale, x + (i % 3) * scale
                img[max(r, 0):max(r + scale, 0), max(c, 0):max(c + scale, 0)] = torch.tensor(color, dtype=torch.uint8)
        x += 4 * scale
    return x


def text_width(s: str, scale: int = 2) -> int:
    return 4 * scale * len(s) - scale


def rect(img: torch.Tensor, x0: int, y0: int, x1: int, y1: int, color) -> None:
    img[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = torch.tensor(color, dtype=torch.uint8)


def gradient_flow(stats: list[tuple[str, float, float]], title: str = "gradient flow") -> torch.Tensor:
    """The gradient-flow bar chart: for each layer (first layer left), a light bar up to max |g|
    and a dark bar up to mean |g|, on a log10 axis with a line per decade. ``stats``: (layer name,
    mean |g|, max |g|) per layer. Vanishing gradients are bars that shrink towards the left."""
    logs = [math.log10(v) for _, mean, top in stats for v in (mean, top) if v > 0]
    lo, hi = (math.ceil(min(logs)) - 1, math.ceil(max(logs))) if logs else (-1, 0)  # the least bar shows
    hi = max(hi, lo + 1)
    n = max(len(stats), 1)
    left, top_margin, plot_h, slot = 56, 36, 220, 36
    width = max(left + n * slot + 16, 480)
    img = canvas(top_margin + plot_h + 40 + 12 * max(len(s[0]) for s in stats or [("", 0, 0)]) // 8, width)
    text(img, 8, 8, f"{title}: max abs grad light, mean dark (log scale)", 2)
    y_of = lambda v: top_margin + plot_h - round((math.log10(v) - lo) / (hi - lo) * plot_h)  # noqa: E731
    for decade in range(lo, hi + 1):
        y = y_of(10.0 ** decade)
        rect(img, left, y, width - 8, y + 1, GREY)
        text(img, 4, y - 4, f"1E{decade}", 2)
    for i, (name, mean, top) in enumerate(stats):
        x = left + i * slot + 4
        base = top_margin + plot_h
        if top > 0:
            rect(img, x, y_of(max(top, 10.0 ** lo)), x + slot - 8, base, LIGHT)
        if mean > 0:
            rect(img, x + 6, y_of(max(mean, 10.0 ** lo)), x + slot - 14, base, DARK)
        text(img, x, base + 6, f"L{i}", 2)
        layer = name.rsplit(".", 1)[0].rsplit(".", 1)[-1][:7]  # the class: Linear, Conv2d
        text(img, x, base + 20, layer, 1)
    rect(img, left, top_margin + plot_h, width - 8, top_margin + plot_h + 1, BLACK)
    return img


def _tint(fraction: float) -> tuple[int, int, int]:
    """White (0) to dark blue (1)."""
    return tuple(round(255 + (c - 255) * fraction) for c in (8, 48, 107))


def confusion_matrix(counts: torch.Tensor, title: str = "confusion (rows true, cols predicted)") -> torch.Tensor:
    """A K×K count matrix drawn as a grid: each cell shaded by its share of its row (the true
    class), its count written in it, row and column labels; the diagonal is the correct answers."""
    k = counts.shape[0]
    cell, left, top = 30, 40, 48
    img = canvas(top + k * cell + 12, max(left + k * cell + 12, text_width(title) + 16))
    text(img, 8, 8, title, 2)
    rows = counts.sum(1).clamp_min(1)
    for i in range(k):
        text(img, 8, top + i * cell + 10, str(i), 2)  # the true class of row i
        text(img, left + i * cell + (cell - text_width(str(i))) // 2, top - 14, str(i), 2)  # predicted
        for j in range(k):
            x, y, share = left + j * cell, top + i * cell, counts[i, j].item() / rows[i].item()
            rect(img, x, y, x + cell - 1, y + cell - 1, _tint(share))
            if counts[i, j] > 0:
                label = str(int(counts[i, j]))
                text(img, x + (cell - text_width(label, 2)) // 2, y + 10, label, 2,
                     WHITE if share > 0.5 else (RED if i != j else BLACK))
    return img


def _tile(x: torch.Tensor, size: int) -> torch.Tensor:
    """One input (C, H, W) or (H, W) as a (size, size, 3) uint8 tile, min-max scaled, nearest
    neighbour upscaled."""
    x = x.detach().float().cpu()
    x = x if x.dim() == 3 else x.unsqueeze(0)
    x = x[:3] if x.shape[0] >= 3 else x[:1].expand(3, -1, -1)
    x = (x - x.min()) / (x.max() - x.min()).clamp_min(1e-12)
    x = torch.nn.functional.interpolate(x.unsqueeze(0), size=(size, size), mode="nearest")[0]
    return (255 - x * 255).round().to(torch.uint8).permute(1, 2, 0)  # ink dark on white, as written


def is_image_batch(x: torch.Tensor) -> bool:
    """Inputs that :func:`misclassified_grid` can draw: (N, 1 or 3, H, W) or (N, H, W), H, W ≥ 4."""
    shape = x.shape[1:]
    return (len(shape) == 3 and shape[0] in (1, 3) and min(shape[1:]) >= 4) or (len(shape) == 2 and min(shape) >= 4)


def misclassified_grid(x: torch.Tensor, pred: torch.Tensor, true: torch.Tensor, columns: int = 8,
                       size: int = 44) -> torch.Tensor:
    """The inputs ``x`` in a grid, each labelled ``P<pred> T<true>`` (predicted, true) under it."""
    n = len(x)
    rows = max(-(-n // columns), 1)
    pad, label_h = 8, 16
    img = canvas(24 + rows * (size + label_h + pad), max(columns * (size + pad) + pad, 300))
    text(img, pad, 6, f"{n} misclassified: P predicted, T true", 2)
    for i in range(n):
        r, c = divmod(i, columns)
        x0, y0 = pad + c * (size + pad), 24 + r * (size + label_h + pad)
        img[y0:y0 + size, x0:x0 + size] = _tile(x[i], size)
        text(img, x0, y0 + size + 3, f"P{int(pred[i])} T{int(true[i])}", 2, RED)
    return img
