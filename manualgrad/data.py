"""Datasets for ``manualgrad train`` and the examples: the bundled UCI digits, two synthetic sets,
and MNIST from local IDX files. Each loader returns ``torch.utils.data.TensorDataset`` splits.

- ``digits``: the UCI optical-recognition handwritten digits (1,797 8×8 images, pixel values
  0..16, 10 classes; E. Alpaydin and C. Kaynak, CC BY 4.0), shipped inside the package
  (``datasets/digits.gz``, exported once from scikit-learn's copy). Fixed seeded split
  1,258 / 270 / 269 (train / val / test), pixels scaled to [0, 1].
- ``spirals``: two interleaved spirals, 2 features, 2 classes (the classic non-linear toy).
- ``regression``: y = sin(3x₁) + x₂² − x₁x₃ + noise, 8 features (5 of them distractors).
- ``mnist``: ``train-images-idx3-ubyte`` etc. (optionally ``.gz``) read from ``data_dir``; the
  last 5,000 training images are the validation split.
"""

from __future__ import annotations

import gzip
import math
import pathlib
import struct

import torch
from torch.utils.data import TensorDataset

HERE = pathlib.Path(__file__).parent / "datasets"
DATASETS = ("digits", "spirals", "regression", "mnist")
SPLIT_SEED = 0


def _split(x: torch.Tensor, y: torch.Tensor, fractions=(0.7, 0.15), seed: int = SPLIT_SEED):
    """Shuffle with a fixed seed and cut into train/val/test TensorDatasets."""
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    n_train = round(fractions[0] * len(x))
    n_val = round(fractions[1] * len(x))
    cuts = (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:])
    return tuple(TensorDataset(x[i], y[i]) for i in cuts)


def load_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """All 1,797 digits: images (N, 1, 8, 8) float32 in [0, 1] and labels (N,) int64."""
    raw = gzip.decompress((HERE / "digits.gz").read_bytes())
    if raw[:8] != b"MGDIGITS":
        raise ValueError("manualgrad/datasets/digits.gz is damaged (bad magic); reinstall manualgrad")
    n, d = struct.unpack("<II", raw[8:16])
    pixels = torch.frombuffer(bytearray(raw[16:16 + n * d]), dtype=torch.uint8)
    labels = torch.frombuffer(bytearray(raw[16 + n * d:16 + n * d + n]), dtype=torch.uint8)
    return (pixels.reshape(n, 1, 8, 8).float() / 16.0), labels.long()


def two_spirals(n: int = 1000, noise: float = 0.2, seed: int = SPLIT_SEED):
    """``n`` points on two interleaved spirals (x: (n, 2) float32, y: (n,) int64 in {0, 1})."""
    g = torch.Generator().manual_seed(seed)
    t = torch.sqrt(torch.rand(n // 2, generator=g)) * 3 * math.pi
    arm = torch.stack([t * torch.cos(t), t * torch.sin(t)], 1) / (3 * math.pi) * 2
    x = torch.cat([arm, -arm]) + noise * torch.randn(2 * (n // 2), 2, generator=g) / 4
    y = torch.cat([torch.zeros(n // 2), torch.ones(n // 2)]).long()
    return x, y


def regression(n: int = 2000, noise: float = 0.1, seed: int = SPLIT_SEED):
    """``n`` samples of 8 features and one smooth non-linear target (x: (n, 8), y: (n, 1))."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 8, generator=g) * 2 - 1
    y = torch.sin(3 * x[:, 0]) + x[:, 1] ** 2 - x[:, 0] * x[:, 2] + noise * torch.randn(n, generator=g)
    return x, y.unsqueeze(1)


_IDX_TYPES = {0x08: torch.uint8}


def read_idx(path: pathlib.Path) -> torch.Tensor:
    """One IDX file (``.gz`` or plain): the magic gives the element type and the rank."""
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    zero, kind, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or kind not in _IDX_TYPES:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    shape = struct.unpack(f">{rank}I", raw[4:4 + 4 * rank])
    data = torch.frombuffer(bytearray(raw[4 + 4 * rank:]), dtype=torch.uint8)
    if data.numel() != math.prod(shape):
        raise ValueError(f"{path}: holds {data.numel()} values, its header says {shape}")
    return data.reshape(shape)


def _idx(data_dir: pathlib.Path, stem: str) -> torch.Tensor:
    for name in (stem, stem + ".gz"):
        if (data_dir / name).is_file():
            return read_idx(data_dir / name)
    raise FileNotFoundError(f"MNIST file {stem}[.gz] not found in {data_dir}")


def load_mnist(data_dir) -> tuple[TensorDataset, TensorDataset, TensorDataset]:
    """MNIST from the four IDX files in ``data_dir``: train (55,000), val (5,000), test."""
    if data_dir is None:
        raise FileNotFoundError("the mnist dataset needs --data-dir pointing at its IDX files")
    data_dir = pathlib.Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"--data-dir {data_dir} is not a directory")
    sets = []
    for prefix in ("train", "t10k"):
        x = _idx(data_dir, f"{prefix}-images-idx3-ubyte").unsqueeze(1).float() / 255.0
        y = _idx(data_dir, f"{prefix}-labels-idx1-ubyte").long()
        sets.append((x, y))
    (x, y), test = sets
    n_val = min(5000, len(x) // 10)
    return TensorDataset(x[:-n_val], y[:-n_val]), TensorDataset(x[-n_val:], y[-n_val:]), TensorDataset(*test)


def get_dataset(name: str, data_dir=None, seed: int = SPLIT_SEED):
    """``(train, val, test)`` TensorDatasets of one of :data:`DATASETS`."""
    if name == "digits":
        return _split(*load_digits(), seed=seed)
    if name == "spirals":
        return _split(*two_spirals(seed=seed), seed=seed)
    if name == "regression":
        return _split(*regression(seed=seed), seed=seed)
    if name == "mnist":
        return load_mnist(data_dir)
    raise ValueError(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


def is_classification(name: str) -> bool:
    return name != "regression"
