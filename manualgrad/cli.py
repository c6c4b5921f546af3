"""``manualgrad`` command line: ``manualgrad train`` (the main job), ``verify``, ``bench`` and ``coverage``."""

from __future__ import annotations

import argparse
import json
import sys

import torch

from .cli_base import CliError, Parser, seed  # noqa: F401 - CliError: imported from here by callers

DTYPES = {"float64": torch.float64, "float32": torch.float32, "bfloat16": torch.bfloat16}


def _device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise CliError("--device cuda: no CUDA device is available (torch.cuda.is_available() is False)")
    return torch.device(name)


def cmd_verify(args) -> int:
    from . import ops
    from .verify import verify_op

    device, dtype = _device(args.device), DTYPES[args.dtype]
    try:
        specs = [ops.get(n) for n in args.op] if args.op else ops.OPS
    except KeyError as e:
        raise CliError(e.args[0]) from None
    reports = []
    for i, spec in enumerate(specs):
        torch.manual_seed(args.seed + i)  # each op's random samples reproducible on their own
        reports.append(verify_op(spec, device, dtype, gradcheck=not args.no_gradcheck))
        if not args.json:
            _print_row(reports[-1], first=len(reports) == 1, device=device, dtype=args.dtype)
    failed = [r for r in reports if not r.ok]
    if args.json:
        print(json.dumps([dict(vars(r), ok=r.ok) for r in reports], indent=2))
    else:
        for r in failed:
            print(f"\n{r.name} failures:")
            for f in r.failures[:20]:
                print(f"  - {f}")
        print("\nerrors: max |ours − torch| / max(1, |torch|) over all samples (absolute for small values, "
              "relative for large)")
        print(f"\n{len(reports) - len(failed)}/{len(reports)} ops pass on {device} in {args.dtype}"
              f" (torch {torch.__version__}, --seed {args.seed})")
    return 1 if failed else 0


def cmd_bench(args) -> int:
    from . import bench

    device = _device(args.device)
    try:
        cases = bench.select(device, args.suite, args.case)
    except KeyError as e:
        raise CliError(e.args[0]) from None
    if args.repeat < 2:
        raise CliError(f"--repeat must be >= 2, got {args.repeat}")
    if args.layers:
        return _bench_layers(args, device, cases)
    ceiling = bench.matmul_ceiling(device) if device.type == "cuda" else None
    rows, skipped = [], {}
    isolate = len(cases) > 1 and not args.in_process
    for case in cases:
        reason = bench.skip_reason(case)
        if reason:
            skipped[case.name] = reason
            if not args.json:
                print(f"  {case.name}: skipped ({reason})", file=sys.stderr, flush=True)
            continue
        for compiled in ((True,) if args.compile_only else (False, True) if args.compile else (False,)):
            rows.append(_isolated(args, device, case, compiled) if isolate
                        else bench.run_case(case, device, args.repeat, compiled))
            if not args.json:
                print(f"  {case.name}{' (compiled)' if compiled else ''}: ratio {rows[-1].ratio:.3f}",
                      file=sys.stderr, flush=True)
    if device.type == "cuda" and not args.case and args.suite in ("default", "all"):
        rows.append(bench.run_linear_cross_entropy(device))
    if args.json:
        print(json.dumps(bench.as_json(rows, ceiling, skipped), indent=2))
    else:
        print(f"manualgrad bench on {device} (torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
        print(bench.format_table(rows, ceiling, skipped))
    return 0


def _bench_layers(args, device, cases) -> int:
    """``bench --layers``: each case's layers on their own (:mod:`manualgrad.bench_layers`)."""
    from . import bench, bench_layers
    rows = []
    for case in cases:
        if bench.skip_reason(case) is None:
            rows += bench_layers.run_layers(case, device, args.repeat)
    if args.json:
        print(json.dumps([dict(vars(r), extra_ms=r.extra_ms) for r in rows], indent=2))
    else:
        print(f"manualgrad bench --layers on {device} (torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
        print(bench_layers.format_layers(rows))
    return 0


def _isolated(args, device, case, compiled):
    """One case's row from a fresh interpreter (``bench --case NAME --in-process --json``), as a user
    runs one model: in one process, the heap a case leaves behind changes the next one's step (the
    LSTM classifier's torch step 6.3 ms alone, 4.4 ms after the CNNs: glibc hands freed blocks of
    ≥ 128 KiB back, and a grown heap spares the re-faulting that the one-model run pays)."""
    import subprocess
    from . import bench
    cmd = [sys.executable, "-m", "manualgrad", "bench", "--device", device.type, "--case", case.name,
           "--repeat", str(args.repeat), "--in-process", "--json"] + (["--compile-only"] if compiled else [])
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise CliError(f"bench of {case.name!r} failed in its own process:\n{done.stderr.strip()}")
    return bench.Row(**json.loads(done.stdout)["rows"][0])


def cmd_coverage(args) -> int:
    from .coverage import coverage
    from .swap import swap

    made = _call_factory(args.factory)
    model, inputs, loss_fn = (*made, None) if len(made) == 2 else made
    if isinstance(inputs, dict):
        positional, keywords = (), inputs
    else:
        positional, keywords = ((inputs,) if isinstance(inputs, torch.Tensor) else tuple(inputs)), {}
    swapped = swap(model, strict=args.strict) if args.swap or args.strict else None
    report = coverage(model, *positional, loss_fn=loss_fn, **keywords)
    if args.json:
        print(json.dumps(dict(report.as_dict(), swap=str(swapped) if swapped else None), indent=2))
        return 0
    if swapped is not None:
        print(f"{swapped}\n")
    print(report)
    return 0


def _call_factory(spec: str):
    """``module:function`` (the module importable from the current folder) called with no
    arguments; it must return ``(model, inputs)`` or ``(model, inputs, loss_fn)``."""
    import importlib

    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise CliError(f"{spec!r} is not MODULE:FACTORY (e.g. mymodels:tiny_gpt2)")
    sys.path.insert(0, "")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise CliError(f"cannot load {spec}: {e}") from None
    finally:
        sys.path.remove("")
    made = factory()
    if not (isinstance(made, tuple) and len(made) in (2, 3) and isinstance(made[0], torch.nn.Module)):
        raise CliError(f"{spec} must return (model, inputs) or (model, inputs, loss_fn), got {type(made).__name__}")
    return made


_COLS = f"{'op':<34} {'samples':>7} {'fwd err':>9} {'grad err':>9} {'gradcheck':>9} {'gradgrad':>9} {'errors':>6}  status"


def _print_row(r, first: bool, device, dtype: str) -> None:
    if first:
        print(f"manualgrad verify: every op vs torch autograd on {device}, {dtype}"
              " (gradcheck/gradgradcheck in float64)\n")
        print(_COLS)
        print("-" * len(_COLS))
    print(f"{r.name:<34} {r.samples:>7} {r.forward_err:>9.1e} {r.grad_err:>9.1e} {r.gradcheck:>9}"
          f" {r.gradgradcheck:>9} {r.errors:>6}  {'PASS' if r.ok else 'FAIL'}", flush=True)


def build_parser() -> argparse.ArgumentParser:
    from .train import command

    from . import __version__

    p = Parser(prog="manualgrad", description="Hand-derived backprop for PyTorch.")
    p.add_argument("--version", action="version",
                   version=f"manualgrad {__version__} (torch {torch.__version__}, Python {sys.version.split()[0]})")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)
    command.add_parser(sub)
    v = sub.add_parser("verify", help="check every op against torch autograd; exit 1 on any failure")
    v.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    v.add_argument("--dtype", default="float64", choices=list(DTYPES))
    v.add_argument("--op", action="append", metavar="NAME", help="only this op (repeatable)")
    v.add_argument("--json", action="store_true", help="machine-readable output")
    v.add_argument("--no-gradcheck", action="store_true", help="skip float64 gradcheck/gradgradcheck")
    v.add_argument("--seed", type=seed, default=0,
                   help="seed of the random samples (default 0; op i uses seed+i), to reproduce a run")
    v.set_defaults(func=cmd_verify)
    b = sub.add_parser("bench", help="manualgrad vs torch autograd: step time, saved bytes, peak memory")
    b.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    b.add_argument("--suite", default="default", choices=["default", "quick", "models", "all"])
    b.add_argument("--case", action="append", metavar="NAME", help="only this case (repeatable)")
    b.add_argument("--repeat", type=int, default=20, help="timed steps per side (interleaved)")
    b.add_argument("--compile", action="store_true", help="also run every case under torch.compile")
    b.add_argument("--json", action="store_true", help="machine-readable output")
    b.add_argument("--layers", action="store_true",
                   help="each layer of the cases' models on its own: where a model's gap comes from")
    b.add_argument("--in-process", action="store_true",
                   help="run every case in this process (default: each case of a multi-case run in its own)")
    b.add_argument("--compile-only", action="store_true", help=argparse.SUPPRESS)  # an isolated compiled row
    b.set_defaults(func=cmd_bench)
    c = sub.add_parser("coverage",
                       help="which backward nodes of your model are manualgrad's, and where torch's are made")
    c.add_argument("factory", metavar="MODULE:FACTORY",
                   help="a function importable from the current folder returning (model, inputs) or "
                        "(model, inputs, loss_fn); inputs: a tensor, a tuple (positional) or a dict (keywords)")
    c.add_argument("--swap", action="store_true", help="manualgrad.swap the model first and print the swap report")
    c.add_argument("--strict", action="store_true",
                   help="swap with strict routing (the arithmetic manualgrad's too; implies --swap)")
    c.add_argument("--json", action="store_true", help="machine-readable output")
    c.set_defaults(func=cmd_coverage)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CliError as e:
        print(f"manualgrad {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"manualgrad {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
