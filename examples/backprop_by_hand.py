"""Backprop by hand for one neuron, next to manualgrad's backward and torch autograd.

    z = w·x + b        (manualgrad.functional.linear)
    a = σ(z)           (manualgrad.functional.sigmoid)
    L = ½ (a − y)²     (½ · manualgrad.functional.mse_loss with reduction='sum')

Chain rule, one factor per line:
    ∂L/∂a = a − y
    ∂a/∂z = σ'(z) = a (1 − a)
    ∂L/∂z = ∂L/∂a · ∂a/∂z
    ∂L/∂w = ∂L/∂z · x
    ∂L/∂b = ∂L/∂z
Then gradient descent, w ← w − η·∂L/∂w and b ← b − η·∂L/∂b, drives the loss down.

Run: python examples/backprop_by_hand.py
"""

import torch

import manualgrad.functional as MF

# ---- config -------------------------------------------------------------------------------
X = [1.5, -0.5, 2.0]   # one input with three features
W = [0.2, -0.4, 0.1]   # initial weights
B = 0.3                # initial bias
Y = 1.0                # target
LR = 0.5               # learning rate η
STEPS = 8              # gradient-descent steps
# -------------------------------------------------------------------------------------------

torch.set_default_dtype(torch.float64)
x, y = torch.tensor(X), torch.tensor(Y)


def manual_forward(w, b):
    z = MF.linear(x, w, b)                            # hand-derived backward: LinearFunction
    a = MF.sigmoid(z)                                 # hand-derived backward: SigmoidFunction
    loss = 0.5 * MF.mse_loss(a, y, reduction="sum")   # hand-derived backward: MSELossFunction
    return z, a, loss


def torch_forward(w, b):
    z = x @ w + b
    a = 1 / (1 + torch.exp(-z))
    return z, a, 0.5 * (a - y) ** 2


def gradients(forward, w0, b0):
    w, b = torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    z, a, loss = forward(w, b)
    z.retain_grad()
    a.retain_grad()
    loss.backward()
    return {"a": a.item(), "∂L/∂a": a.grad.item(), "∂a/∂z": (z.grad / a.grad).item(), "∂L/∂z": z.grad.item(),
            "∂L/∂w": w.grad.tolist(), "∂L/∂b": b.grad.item()}


def by_hand(w0, b0):
    z = sum(wi * xi for wi, xi in zip(w0, X)) + b0
    a = 1 / (1 + torch.exp(torch.tensor(-z)).item())
    dL_da = a - Y
    da_dz = a * (1 - a)
    dL_dz = dL_da * da_dz
    return {"a": a, "∂L/∂a": dL_da, "∂a/∂z": da_dz, "∂L/∂z": dL_dz,
            "∂L/∂w": [dL_dz * xi for xi in X], "∂L/∂b": dL_dz}


def fmt(v):
    return "[" + ", ".join(f"{e:+.6f}" for e in v) + "]" if isinstance(v, list) else f"{v:+.6f}"


def main():
    hand, ours, theirs = by_hand(W, B), gradients(manual_forward, W, B), gradients(torch_forward, W, B)
    print(f"{'quantity':<8} {'by hand':>36} {'manualgrad':>36} {'torch autograd':>36}")
    for key, value in hand.items():
        print(f"{key:<8} {fmt(value):>36} {fmt(ours[key]):>36} {fmt(theirs[key]):>36}")
    for key in ours:
        assert torch.allclose(torch.tensor(ours[key]), torch.tensor(theirs[key])), key
        assert torch.allclose(torch.tensor(ours[key]), torch.tensor(hand[key])), key

    print(f"\ngradient descent, η = {LR}: w ← w − η·∂L/∂w, b ← b − η·∂L/∂b")
    w, b = torch.tensor(W, requires_grad=True), torch.tensor(B, requires_grad=True)
    for step in range(STEPS + 1):
        _, a, loss = manual_forward(w, b)
        print(f"step {step}: a = {a.item():.4f}  L = {loss.item():.6f}")
        if step == STEPS:
            break
        w.grad = b.grad = None
        loss.backward()
        with torch.no_grad():
            w -= LR * w.grad
            b -= LR * b.grad


if __name__ == "__main__":
    main()
