"""What every ``manualgrad`` subcommand's parser shares (``cli.py`` builds the parser from the
subcommands, ``train/command.py`` adds ``train``; both import this, never each other)."""

from __future__ import annotations

import argparse
import difflib
import re
import sys


class CliError(Exception):
    """Bad command-line input: printed as one line, exit status 2, no traceback."""


def seed(text: str) -> int:
    """An argparse type: a seed torch accepts, with room for the per-op/per-epoch offsets added to
    it (a signed 64-bit integer)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: not an integer") from None
    if not -(2**63) <= value < 2**63:
        raise argparse.ArgumentTypeError(f"seed {value} is out of range: a seed is a signed 64-bit integer "
                                         "(-2**63 <= seed < 2**63)")
    return value


class Parser(argparse.ArgumentParser):
    """Bad arguments: one line on stderr and exit status 2 (argparse adds the usage block); an
    unknown flag names the closest known one (Python 3.14's ``suggest_on_error`` covers only
    choices and subcommands)."""

    def error(self, message):
        print(f"{self.prog}: error: {message}{self._suggestion(message)}", file=sys.stderr)
        sys.exit(2)

    def _suggestion(self, message: str) -> str:
        if not message.startswith("unrecognized arguments:"):
            return ""
        known = [o for a in self._actions for o in a.option_strings if o.startswith("--")]
        for sub in (a for a in self._actions if isinstance(a, argparse._SubParsersAction)):
            known += [o for p in sub.choices.values() for a in p._actions for o in a.option_strings
                      if o.startswith("--")]
        hints = []
        for flag in re.findall(r"(?<!\S)(-{1,2}[\w-]+)", message.split(":", 1)[1]):
            close = difflib.get_close_matches("--" + flag.lstrip("-"), known, n=1, cutoff=0.6)
            if close:
                hints.append(f"{flag}: did you mean {close[0]}?")
        return f" ({'; '.join(hints)})" if hints else ""
