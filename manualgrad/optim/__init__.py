"""Hand-written optimizers: ``torch.optim.Optimizer`` subclasses whose update rules are ours.

Each class is its torch.optim namesake's twin (arguments, defaults, validation messages, param
groups, state keys, ``state_dict``), so torch.optim state dicts load into them and back and every
``torch.optim.lr_scheduler`` drives them. Each family's rule is one plain function
(``sgd_update_``, ``rmsprop_update_``, ``adam_update_``) applied per parameter, in place.

>>> import manualgrad.optim as mopt
>>> opt = mopt.AdamW(model.parameters(), lr=3e-4)
"""

from .adam import Adam, AdamW, adam_update_
from .rmsprop import RMSprop, rmsprop_update_
from .sgd import SGD, sgd_update_

__all__ = ["SGD", "RMSprop", "Adam", "AdamW", "sgd_update_", "rmsprop_update_", "adam_update_"]
