"""Hand-derived ``torch.autograd.Function``s, one module per op family.

Each Function computes its forward with fast torch primitives and its backward with the
derivative worked out on paper (the docstring gives it). Backward formulas use differentiable
torch ops, so double backward works; they never call torch's autograd.
"""
