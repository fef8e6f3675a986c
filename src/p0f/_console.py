"""What the console commands (``p0f-query``, ``p0f-log``) share: conventions.

Each command is a ``run(argv, *, stdin, stdout, stderr, environ) -> int``
function that never touches ``sys`` (so tests drive it on ``io.StringIO``),
wrapped by :func:`console_main` for the real process.  The conventions:

- exit codes: :data:`EXIT_OK` 0; 1 is left to each command (``p0f-query``:
  some host had no match); :data:`EXIT_BAD_INPUT` 2 for a usage error or a
  bad input line (the other lines still handled); :data:`EXIT_FAILED` 3
  when the source (the daemon, the log file) failed and the run stopped;
  141 after the reader of stdout went away (as after SIGPIPE), 130 after
  Ctrl-C;
- every error is one line on stderr, ``PROG: message``, never a traceback
  (:func:`fail`); usage errors end in ``(see --help)`` (:class:`Parser`);
- input comes from arguments, files or stdin, where ``-`` means stdin and a
  piped stdin is read when nothing else is given (:func:`open_input`,
  :func:`stdin_is_piped`); lines are numbered from 1 for error messages
  (:func:`numbered`), and an undecodable byte is a bad line, not a crash;
- output is text blocks separated by a blank line, or JSON Lines
  (:class:`Printer`).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, Final, NoReturn, Protocol

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "Command",
    "STDIN",
    "InputError",
    "Parser",
    "Printer",
    "TextSink",
    "TextSource",
    "UsageExit",
    "bad_input_summary",
    "console_main",
    "fail",
    "numbered",
    "open_input",
    "positive",
    "stdin_is_piped",
]

EXIT_OK: Final = 0
"""Everything asked for was done."""
EXIT_BAD_INPUT: Final = 2
"""A usage error, or an input line the command could not use."""
EXIT_FAILED: Final = 3
"""The source (p0f, the log file) failed; the run stopped there."""
EXIT_BROKEN_PIPE: Final = 128 + 13
"""What a shell reports after SIGPIPE: the reader of stdout went away."""
EXIT_INTERRUPTED: Final = 128 + 2
"""What a shell reports after SIGINT (Ctrl-C)."""

STDIN: Final = "-"
"""The file name that means stdin."""


class TextSink(Protocol):
    """Where output goes: ``sys.stdout``, ``sys.stderr`` or an ``io.StringIO``."""

    def write(self, text: str, /) -> object: ...
    def flush(self) -> object: ...
    def isatty(self) -> bool: ...


class TextSource(Protocol):
    """Where input lines come from: ``sys.stdin``, a file or an ``io.StringIO``."""

    def __iter__(self) -> Iterator[str]: ...
    def isatty(self) -> bool: ...


class Command(Protocol):
    """A console command's body: argv and the streams in, the exit code out."""

    def __call__(
        self,
        argv: Sequence[str],
        *,
        stdin: TextSource,
        stdout: TextSink,
        stderr: TextSink,
        environ: Mapping[str, str],
    ) -> int: ...


# -- errors ------------------------------------------------------------------


def fail(stderr: TextSink, prog: str, message: str, status: int) -> int:
    """Print ``PROG: message`` as one line on ``stderr``; return ``status``."""
    stderr.write(f"{prog}: {message}\n")
    return status


def bad_input_summary(
    count: int, first_error: str, first_line: int | None, noun: tuple[str, str]
) -> str:
    """The closing line about bad input, e.g. ``2 bad addresses, the first
    on line 4: why``; ``noun`` is the singular and the plural."""
    where = "" if first_line is None else f" on line {first_line}"
    if count == 1:
        return f"1 bad {noun[0]}{where}: {first_error}"
    return f"{count} bad {noun[1]}, the first{where}: {first_error}"


class InputError(Exception):
    """An input file could not be opened; the message says which and why."""


# -- arguments ---------------------------------------------------------------


class UsageExit(Exception):
    """argparse is done (help, or a usage error): exit with :attr:`status`."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class Parser(argparse.ArgumentParser):
    """argparse, writing to the streams given and never calling ``sys.exit``.

    A usage error is one line, ``PROG: message (see --help)``, and exits
    with :data:`EXIT_BAD_INPUT`; help and usage go to ``stdout``.  Both
    raise :class:`UsageExit`, which carries the exit code.
    """

    def __init__(self, stdout: TextSink, stderr: TextSink, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.stdout = stdout
        self.stderr = stderr

    def print_usage(self, file: SupportsWrite[str] | None = None) -> None:
        (file or self.stdout).write(self.format_usage())

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        (file or self.stdout).write(self.format_help())

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            self.stderr.write(message)
        raise UsageExit(status)

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message} (see --help)\n")


def positive(kind: Callable[[str], float], what: str) -> Callable[[str], Any]:
    """An argparse ``type`` for a finite number above 0 of ``kind``
    (``float`` or ``int``); ``what`` names it in the error (``"a number"``)."""

    def convert(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"must be more than 0: {text!r}")
        return value

    return convert


# -- input -------------------------------------------------------------------


def stdin_is_piped(stdin: TextSource) -> bool:
    """Whether stdin is a pipe or a file rather than someone's terminal: a
    command given nothing else to read then reads it, as Unix tools do."""
    try:
        return not stdin.isatty()
    except (OSError, ValueError):  # closed: nothing to read
        return False


def open_input(name: str, stdin: TextSource, stack: ExitStack) -> TextSource | Iterable[str]:
    """The lines of file ``name`` (``-`` for stdin), closed with ``stack``.

    Undecodable bytes read as U+FFFD, so a bad line is reported as one.
    Raises :class:`InputError` with a one-line message when it cannot open.
    """
    if name == STDIN:
        return stdin
    try:
        return stack.enter_context(open(name, encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from exc


def numbered(lines: Iterable[str]) -> Iterator[tuple[int, str]]:
    """``(line number, line without its line break)``, counting from 1."""
    for number, line in enumerate(lines, 1):
        yield number, line.rstrip("\r\n")


# -- output ------------------------------------------------------------------


class Printer:
    """Writes a command's results: text blocks with a blank line between
    them, or one JSON object per line (JSON Lines)."""

    def __init__(self, stdout: TextSink) -> None:
        self._stdout = stdout
        self._first = True

    def block(self, text: str) -> None:
        """A block of text lines (ending in a newline), after a blank line
        unless it is the first."""
        if not self._first:
            self._stdout.write("\n")
        self._stdout.write(text)
        self._first = False

    def record(self, record: Mapping[str, Any]) -> None:
        """One JSON Lines record."""
        self._stdout.write(json.dumps(record) + "\n")

    def flush(self) -> None:
        self._stdout.flush()


# -- the process -------------------------------------------------------------


def _silence_stdout() -> None:
    # The reader went away (``... | head``): point stdout at /dev/null so
    # the interpreter's final flush does not fail again.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def console_main(prog: str, command: Command, argv: Sequence[str] | None) -> int:
    """Run ``command`` on the process's streams and environment; the exit code.

    A closed stdout (``| head``) ends quietly with 141, Ctrl-C with 130.
    """
    stdin: TextSource = sys.stdin
    if isinstance(sys.stdin, io.TextIOWrapper):
        # An undecodable line should be reported as a bad line, not crash.
        sys.stdin.reconfigure(errors="replace")
    elif sys.stdin is None:  # started with file descriptor 0 closed
        stdin = io.StringIO()  # as if from /dev/null
    try:
        return command(
            sys.argv[1:] if argv is None else argv,
            stdin=stdin,
            stdout=sys.stdout,
            stderr=sys.stderr,
            environ=os.environ,
        )
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        sys.stderr.write(f"\n{prog}: interrupted\n")
        return EXIT_INTERRUPTED
