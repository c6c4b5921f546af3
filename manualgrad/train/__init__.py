"""Training with hand-derived backprop: :class:`Trainer` (fit loop, TensorBoard, gradient health,
parity with torch autograd, checkpoints, resume), :class:`EarlyStopping`, model builders.

>>> from manualgrad.train import Trainer, EarlyStopping
>>> trainer = Trainer(model, manualgrad.optim.Adam(model.parameters()), manualgrad.nn.CrossEntropyLoss())
>>> trainer.fit(train_loader, val_loader, epochs=20)
>>> model = load_model("tb_logs/digits_mlp/version_0/checkpoints/best.pt")  # a `manualgrad train` run
"""

from .checkpoint import CheckpointError, save_atomic
from .checkpoint import load as load_checkpoint
from .guard import NonFiniteError
from .models import load_model
from .parity import ParityError, torch_twin
from .runs import EarlyStopping, RunInUseError
from .trainer import Trainer, pick_device

__all__ = ["Trainer", "EarlyStopping", "NonFiniteError", "ParityError", "CheckpointError", "RunInUseError",
           "torch_twin", "pick_device", "save_atomic", "load_checkpoint", "load_model"]
