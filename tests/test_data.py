"""Bundled and synthetic datasets, and MNIST's IDX reader on files written here."""

import gzip
import struct

import pytest
import torch

from manualgrad import data


def test_digits_are_the_uci_set_with_a_fixed_split():
    x, y = data.load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert 0.0 == x.min() and x.max() == 1.0 and (x * 16).round().eq(x * 16).all()
    assert torch.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    assert int((x * 16).sum()) == 561718  # checksum of the exported pixels
    train, val, test = data.get_dataset("digits")
    assert (len(train), len(val), len(test)) == (1258, 270, 269)
    again = data.get_dataset("digits")[2]
    assert torch.equal(test.tensors[0], again.tensors[0])
    rows = lambda ds: {tuple(r.flatten().tolist()) + (int(t),) for r, t in zip(*ds.tensors)}  # noqa: E731
    assert not rows(train) & rows(test)  # a few duplicate images exist in UCI digits, not across these


def test_synthetic_sets():
    x, y = data.two_spirals(200)
    assert x.shape == (200, 2) and set(y.tolist()) == {0, 1} and y.float().mean() == 0.5
    x, y = data.regression(100)
    assert x.shape == (100, 8) and y.shape == (100, 1)
    assert data.is_classification("spirals") and not data.is_classification("regression")
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        data.get_dataset("cifar")


def _write_idx(path, t, compress):
    raw = struct.pack(">HBB", 0, 8, t.dim()) + struct.pack(f">{t.dim()}I", *t.shape) + t.numpy().tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_mnist_reads_idx_files(tmp_path):
    imgs = torch.randint(0, 256, (30, 28, 28), dtype=torch.uint8)
    labels = torch.randint(0, 10, (30,), dtype=torch.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", imgs, True)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels, False)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte", imgs[:7], False)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:7], True)
    train, val, test = data.get_dataset("mnist", data_dir=tmp_path)
    assert (len(train), len(val), len(test)) == (27, 3, 7)
    torch.testing.assert_close(train.tensors[0][0, 0], imgs[0].float() / 255)
    assert torch.equal(val.tensors[1], labels[27:].long())


def test_mnist_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="needs --data-dir"):
        data.get_dataset("mnist")
    with pytest.raises(FileNotFoundError, match="is not a directory"):
        data.get_dataset("mnist", data_dir=tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        data.get_dataset("mnist", data_dir=tmp_path)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an unsigned-byte IDX"):
        data.read_idx(tmp_path / "bad")
