"""What TensorBoard shows of a run, read back from the event files: tag names and their order, the
custom-scalars layout, the per-epoch images, parity on by default, test metrics, the HParams
session; and reloading a run's model."""

import io
import os

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.custom_scalar import layout_pb2
from tensorboard.plugins.hparams import metadata as hparams_metadata
from torch.utils.data import DataLoader

import manualgrad.nn as mnn
import manualgrad.optim as mopt
from manualgrad import cli, data
from manualgrad.train import Trainer, images, load_model, models, tags


def events(path):
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0, "images": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """Two epochs of `manualgrad train` on the digits (small MLP, default parity): the run folder."""
    log_dir = tmp_path_factory.mktemp("logs")
    code = cli.main(["train", "--epochs", "2", "--hidden", "16,16", "--quiet", "--log-dir", str(log_dir),
                     "--check-grads-every", "30"])
    assert code == 0
    return log_dir / "digits_mlp" / "version_0"


def test_tags_name_layers_by_path_and_class_and_loss_and_accuracy_sort_first(digits_run):
    scalars = set(events(digits_run).Tags()["scalars"])
    for tag in ("loss/train", "loss/val", "loss/test", "accuracy/train", "accuracy/val", "accuracy/test",
                "params/grad_norm/1.Linear.weight", "params/grad_norm/2.BatchNorm1d.bias", "params/grad_norm/total",
                "params/update_ratio/4.Linear.weight", "params/flow_grad_norm_log10/L0_1.Linear.weight",
                "params/flow_update_ratio/L2_7.Linear.weight", "units/dead_frac/3.ReLU", "schedule/lr",
                "parity/max_abs_diff", "parity/max_abs_diff/1.Linear", "parity/max_abs_diff/2.BatchNorm1d"):
        assert tag in scalars, tag
    groups = sorted({t.split("/")[0] for t in scalars})  # TensorBoard's order of the groups
    assert groups[:2] == ["accuracy", "loss"], groups
    assert not any(t.startswith(("act/", "grad_norm/", "update_ratio/")) for t in scalars)


def test_parity_is_on_by_default_at_step_0_and_every_k_steps(digits_run):
    steps = [e.step for e in events(digits_run).Scalars("parity/max_abs_diff")]
    assert steps[:3] == [0, 30, 60] and max(e.value for e in events(digits_run).Scalars("parity/max_abs_diff")) < 1e-4


def test_check_grads_every_0_turns_parity_off(tmp_path):
    model = models.mlp((2,), 2, (4,))
    trainer = Trainer(model, mopt.SGD(model.parameters(), lr=0.1), mnn.CrossEntropyLoss(), log_dir=tmp_path,
                      quiet=True, device="cpu", check_grads_every=0, log_every=1)
    train, _, _ = data.get_dataset("spirals")
    trainer.fit(DataLoader(train, batch_size=256), epochs=1)
    scalars = events(trainer.run_dir).Tags()["scalars"]
    assert "loss/train" in scalars and not any(t.startswith("parity/") for t in scalars)


def test_custom_scalars_layout_puts_every_layer_in_one_chart(digits_run):
    ev = events(digits_run)
    (event,) = ev.Tensors("custom_scalars__config__")
    layout = layout_pb2.Layout.FromString(event.tensor_proto.string_val[0])
    titles = [c.title for c in layout.category]
    assert titles[0] == "1 metrics" and titles[1].startswith("2 gradient flow")
    charts = {chart.title: list(chart.multiline.tag) for c in layout.category for chart in c.chart}
    flow = next(tags for title, tags in charts.items() if title.startswith("log10 gradient norm"))
    assert flow == [r"^params/flow_grad_norm_log10/"]
    matched = sorted(t for t in ev.Tags()["scalars"] if t.startswith("params/flow_grad_norm_log10/"))
    assert [t.rsplit("/", 1)[1] for t in matched] == ["L0_1.Linear.weight", "L1_4.Linear.weight",
                                                     "L2_7.Linear.weight"]  # by depth


def test_images_per_epoch_read_back(digits_run):
    ev = events(digits_run)
    for tag in ("params/gradient_flow", "val/confusion_matrix", "val/misclassified"):
        shots = ev.Images(tag)
        assert len(shots) == 2, tag  # one per epoch
        img = Image.open(io.BytesIO(shots[-1].encoded_image_string))
        colours = np.unique(np.asarray(img.convert("RGB")).reshape(-1, 3), axis=0)
        assert img.width >= 300 and img.height >= 100 and len(colours) > 3, tag


def test_test_metrics_and_hparams_session(digits_run):
    ev = events(digits_run)
    assert 0.5 < ev.Scalars("accuracy/test")[0].value <= 1
    session = events(digits_run / "hparams")
    assert not any(t == hparams_metadata.EXPERIMENT_TAG for t in session.summary_metadata)  # columns from all runs
    start = hparams_metadata.parse_session_start_info_plugin_data(
        session.SummaryMetadata(hparams_metadata.SESSION_START_INFO_TAG).plugin_data.content)
    hp = {k: v.WhichOneof("kind") and getattr(v, v.WhichOneof("kind")) for k, v in start.hparams.items()}
    assert hp["lr"] == pytest.approx(1e-3) and hp["optimizer"] == "adam" and hp["hidden"] == "16,16"
    assert hp["batch_size"] == 32 and hp["activation"] == "relu" and hp["seed"] == 0
    assert not {"quiet", "log_dir", "command", "name"} & set(hp)
    assert {"result/loss/val", "result/accuracy/test"} <= set(session.Tags()["scalars"])


def test_best_pt_loads_into_a_ready_model(digits_run):
    model = load_model(digits_run / "checkpoints" / "best.pt")
    assert not model.training and isinstance(model[1], mnn.Linear)
    _, _, test = data.get_dataset("digits")
    x, y = test.tensors
    acc = (model(x).argmax(-1) == y).float().mean().item()
    assert acc == pytest.approx(events(digits_run).Scalars("accuracy/test")[0].value, abs=1e-6)


def test_load_model_without_a_config_says_what_to_do(tmp_path):
    model = models.mlp((2,), 2, (4,))
    trainer = Trainer(model, mopt.SGD(model.parameters(), lr=0.1), mnn.CrossEntropyLoss(), log_dir=tmp_path,
                      quiet=True, device="cpu")
    train, _, _ = data.get_dataset("spirals")
    trainer.fit(DataLoader(train, batch_size=256), epochs=1)
    with pytest.raises(ValueError, match="holds no model config"):
        load_model(trainer.run_dir / "checkpoints" / "last.pt")


def test_checkpoints_get_the_mode_of_a_plain_file(digits_run):
    mask = os.umask(0)
    os.umask(mask)
    for name in ("last.pt", "best.pt"):
        assert os.stat(digits_run / "checkpoints" / name).st_mode & 0o777 == 0o666 & ~mask


def test_names_of_nested_layers():
    model = torch.nn.Sequential(torch.nn.Sequential(mnn.Linear(2, 3), mnn.ReLU()), mnn.LayerNorm(3))
    assert tags.param_names(model) == {"0.0.weight": "0.0.Linear.weight", "0.0.bias": "0.0.Linear.bias",
                                       "1.weight": "1.LayerNorm.weight", "1.bias": "1.LayerNorm.bias"}
    deep = models.mlp((2,), 2, (4,) * 11)
    series = list(tags.flow_params(deep).values())
    assert series[0] == "L00_1.Linear.weight" and series[-1] == "L11_23.Linear.weight" and series == sorted(series)
    assert tags.metric_tag("val/acc") == "accuracy/val" and tags.metric_tag("test/loss") == "loss/test"


def test_gradient_flow_image_bars_follow_the_gradients():
    img = images.gradient_flow([("1.Linear.weight", 1e-6, 1e-5), ("3.Linear.weight", 1e-2, 1e-1)])
    dark = (img == torch.tensor(images.DARK, dtype=torch.uint8)).all(-1)
    heights = [dark[:, c].sum().item() for c in (56 + 4 + 10, 56 + 36 + 4 + 10)]  # the middle of each mean bar
    assert 0 < heights[0] < heights[1]  # vanishing: the first layer's bar is the shorter


def test_confusion_and_misclassified_images():
    counts = torch.tensor([[5, 1], [0, 4]])
    img = images.confusion_matrix(counts)
    assert img.dtype == torch.uint8 and img.shape[-1] == 3
    grid = images.misclassified_grid(torch.rand(10, 1, 8, 8), torch.arange(10), torch.arange(10).flip(0))
    assert grid.shape[0] > 2 * 44 and (grid < 128).any()
    assert images.is_image_batch(torch.rand(2, 1, 8, 8)) and not images.is_image_batch(torch.rand(2, 8))
