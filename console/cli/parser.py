"""The `sluice` argument parser: every command, its flags, and the checks that turn bad input into exit 2."""

from __future__ import annotations

import argparse
import os
import re
import sys
import unicodedata
from collections.abc import Callable
from typing import Any, NoReturn

from scheduler.config import NAME_PATTERN
from scheduler.durations import parse_duration_option
from scheduler.errors import UsageError
from scheduler.process.settings import DEFAULT_LOST_AFTER

from . import backfills as commands_backfill
from . import completion as commands_completion
from . import systemd as commands_systemd

#: A command served outside the CLI package (`console`, `demo`): it gets the parsed arguments, returns the exit code.
Frontend = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    """argparse, with errors that name the command."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_args(self, args: Any = None, namespace: Any = None) -> Any:
        parsed, extra = self.parse_known_args(args, namespace)
        if extra:
            # Quoted, so an empty or blank argument shows (argparse joins them bare: "unrecognized arguments: ").
            self.error("unrecognized arguments: " + " ".join(repr(word) for word in extra))
        return parsed


def _common(parser: argparse.ArgumentParser, json_output: bool = False) -> None:
    parser.add_argument("--home", help="state home (default $SLUICE_HOME or ~/.local/state/sluice)")
    parser.add_argument("--jobs", help="jobs folder (default HOME/jobs)")
    if json_output:
        parser.add_argument("--json", action="store_true", help="print one JSON document")


# SQLite stores 64-bit integers; a bigger id or limit must be refused here, not overflow in the driver.
MAX_INTEGER = 2**63 - 1
# The same bounds as `priority` in a job file.
MAX_PRIORITY = 1_000_000


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None


def _positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, not {value}")
    if value > MAX_INTEGER:
        raise argparse.ArgumentTypeError(f"expected at most {MAX_INTEGER}, not {text}")
    return value


def _run_id(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a run id (a number), not {text!r}") from None
    if not 1 <= value <= MAX_INTEGER:
        raise argparse.ArgumentTypeError(f"expected a run id (a positive number), not {text}")
    return value


def _priority(text: str) -> int:
    """A run priority, in the range a job file allows."""
    value = _whole(text)
    if not -MAX_PRIORITY <= value <= MAX_PRIORITY:
        raise argparse.ArgumentTypeError(f"expected a priority from {-MAX_PRIORITY} to {MAX_PRIORITY}, not {text}")
    return value


def _duration(text: str) -> float:
    """A duration option: bare seconds or a job file's form ("30s", "15m"), parsed as job files are."""
    try:
        return parse_duration_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _interval(text: str) -> float:
    """A duration option that must be above 0 (a zero poll interval would spin)."""
    try:
        return parse_duration_option(text, above_zero=True)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


#: Long enough for a ticket number and a sentence or two; a reason is one line of the audit log, not a report.
MAX_REASON = 1000


def _reason(text: str) -> str:
    """--reason of a destructive action: one line of words, kept in the event."""
    reason = text.strip()
    if not reason:
        raise argparse.ArgumentTypeError("empty: give a few words, or leave the option out")
    if any(unicodedata.category(char) == "Cc" for char in reason):
        raise argparse.ArgumentTypeError("expected one line of text, without newlines or control characters")
    if len(reason) > MAX_REASON:
        raise argparse.ArgumentTypeError(f"at most {MAX_REASON} characters, not {len(reason)}")
    return reason


def check_new_queue(args: argparse.Namespace) -> None:
    """--queue of submit and backfill may create a queue, so its name must be one a queues.toml could hold."""
    if args.command in ("submit", "backfill") and args.queue is not None:
        if not re.match(NAME_PATTERN, args.queue):
            raise UsageError(f"--queue {args.queue!r}: expected letters, digits, '_', '.' or '-', starting with a "
                             "letter or digit (at most 128)")


#: Arguments that may hold bytes that are not UTF-8: param values reach the job byte for byte.
_ANY_BYTES = frozenset({"param"})


def check_text(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Every other argument must be text: undecodable bytes (surrogate escapes) cannot be stored or printed."""
    # argparse has no public way to list a parser's arguments; _actions is what its own help formatter reads.
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    for action in sub._actions:
        value = getattr(args, action.dest, None)
        for word in value if isinstance(value, list) else [value]:
            if action.dest in _ANY_BYTES or not isinstance(word, str) or word.isascii():
                continue
            try:
                word.encode("utf-8")
            except UnicodeEncodeError:
                name = action.option_strings[-1] if action.option_strings else f"argument {action.metavar or action.dest}"
                raise UsageError(f"{name} {word!r}: not valid UTF-8 text") from None


#: Options every command that has them takes before the command as well as after it: (flag, dest of the value
#: given before). The value given before lands in its own dest, as a subparser would overwrite a shared one.
GLOBAL_OPTIONS = (("--home", "global_home"), ("--jobs", "global_jobs"))


def _add_global_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", dest="global_home", metavar="HOME",
                        help="state home (default $SLUICE_HOME or ~/.local/state/sluice); also after the command")
    parser.add_argument("--jobs", dest="global_jobs", metavar="JOBS",
                        help="jobs folder (default HOME/jobs); also after the command")


def _same_path(raw: str) -> str:
    return os.path.abspath(os.path.expanduser(raw))


def apply_global_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Move a global option given before the command to the command's own; two different values are refused."""
    # argparse has no public way to list a parser's arguments; _actions is what its own help formatter reads.
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[args.command]
    takes = {option for action in sub._actions for option in action.option_strings}
    for flag, dest in GLOBAL_OPTIONS:
        before = getattr(args, dest, None)
        delattr(args, dest)
        if before is None:
            continue
        if flag not in takes:
            raise UsageError(f"{flag}: `sluice {args.command}` takes no {flag}")
        after = getattr(args, flag[2:])
        if after is not None and _same_path(after) != _same_path(before):
            raise UsageError(f"{flag} given twice with different values: {before!r} before the command, "
                             f"{after!r} after it; give one")
        setattr(args, flag[2:], before)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sluice", description="Run batch jobs on a fleet over SSH, durably.")
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_process_commands(sub)
    _add_run_commands(sub)
    _add_fleet_commands(sub)
    commands_backfill.add_parsers(sub, _common, _positive_int, _priority, _reason)
    commands_systemd.add_parser(sub, _common)
    commands_completion.add_parser(sub)
    return parser


def _add_process_commands(sub: Any) -> None:
    p = sub.add_parser("init", help="create the state home with commented examples")
    _common(p)
    p = sub.add_parser("scheduler", help="run the scheduler in the foreground")
    _common(p)
    p.add_argument("--poll-interval", type=_interval, default=0.5,
                   help="time between worker polls, e.g. 500ms or 0.5 (seconds; default 0.5)")
    p.add_argument("--node-lost-after", type=_interval, default=DEFAULT_LOST_AFTER,
                   help="the lease: how long an unreachable node's attempts keep running there before they are "
                        "dispatched again, unless nodes.toml or the job sets lost_after; e.g. 30m or 1800 "
                        "(default 10m)")
    p.add_argument("--retention", type=_duration, default="1h",
                   help="keep finished attempt folders on workers this long, e.g. 1h or 3600 (default 1h)")
    p = sub.add_parser("console", help="open the operator console")
    _common(p)
    p.add_argument("--readonly", action="store_true", help="disable every action that changes anything")
    p = sub.add_parser("demo", help="run the demo on three in-process SSH workers")
    p.add_argument("--no-console", action="store_true", help="run headless and print progress")
    p.add_argument("--home", help="keep the demo's state here instead of a throwaway folder")



def _add_run_commands(sub: Any) -> None:
    p = sub.add_parser("submit", help="submit a run of a job (or many with --params-file)")
    _common(p, json_output=True)
    p.add_argument("job")
    p.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE")
    p.add_argument("--queue")
    p.add_argument("--priority", type=_priority)
    p.add_argument("--key", help="idempotency key: a repeated submit returns the existing run")
    p.add_argument("--params-file", help="JSON lines: one object of params per run, all in one transaction")

    p = sub.add_parser("runs", help="list runs, newest first",
                       description="FILTER is the console's filter language: status words and groups (failed, dead, "
                                   "waiting, ended), job=, queue=, node=, backfill=, and free text, e.g. "
                                   "`sluice runs failed job=etl_load node=worker-2`.")
    _common(p, json_output=True)
    p.add_argument("filter", nargs="*", metavar="FILTER", help="words of the run filter (as in the console's :runs)")
    p.add_argument("--status", action="append", default=[], help="filter by status or group (repeatable)")
    p.add_argument("--job")
    p.add_argument("--queue")
    p.add_argument("--node")
    p.add_argument("--backfill", type=_positive_int)
    p.add_argument("--limit", type=_positive_int, default=50)
    p = sub.add_parser("show", help="a run with its attempts, checkpoints and events")
    _common(p, json_output=True)
    p.add_argument("run", type=_run_id)
    p = sub.add_parser("activity", help="a run's attempt activity: each launch try, failing probe, signal, fence")
    _common(p, json_output=True)
    p.add_argument("run", type=_run_id)
    p.add_argument("--attempt", type=_positive_int, help="only this attempt's")
    p = sub.add_parser("logs", help="a run's output, byte for byte")
    _common(p)
    p.add_argument("run", type=_run_id)
    p.add_argument("--attempt", type=_positive_int)
    p.add_argument("--stderr", action="store_true")
    p.add_argument("-f", "--follow", action="store_true")
    p = sub.add_parser("wait", help="wait for runs to end: exit 0 all succeeded, 1 some did not, 3 timeout")
    _common(p, json_output=True)
    p.add_argument("runs", type=_run_id, nargs="+")
    p.add_argument("--timeout", type=_duration, help="give up after this long, e.g. 30s, 10m or 90 (seconds)")

    for name, help_text in (("cancel", "cancel runs (running ones are killed: TERM, grace, KILL)"),
                            ("retry", "queue a new attempt of ended runs, from their latest checkpoint "
                                      "(succeeded ones only with --force)")):
        p = sub.add_parser(name, help=help_text)
        _common(p, json_output=True)
        p.add_argument("runs", type=_run_id, nargs="+")
        p.add_argument("--reason", type=_reason, help="why, in a few words: kept in the events")
        if name == "retry":
            p.add_argument("--from-scratch", action="store_true", help="ignore checkpoints")
            p.add_argument("--force", action="store_true", help="also run again runs that already succeeded")
    p = sub.add_parser("priority", help="change a run's priority")
    _common(p)
    p.add_argument("run", type=_run_id)
    p.add_argument("priority", type=_priority)



def _add_fleet_commands(sub: Any) -> None:
    p = sub.add_parser("jobs", help="job definitions, validated")
    _common(p, json_output=True)
    p = sub.add_parser("nodes", help="worker nodes: state, slots, last error; --check connects and checks them")
    _common(p, json_output=True)
    p.add_argument("names", nargs="*", metavar="NODE", help="with --check: only these nodes (default all)")
    p.add_argument("--check", action="store_true",
                   help="connect to each node and check what a worker needs; exit 0 all passed, 1 some failed")
    p.add_argument("--timeout", type=_interval, default=20.0,
                   help="with --check: give each node this long, e.g. 20s (default 20)")
    for name in ("drain", "undrain"):
        p = sub.add_parser(name, help=f"{name} a node")
        _common(p)
        p.add_argument("node")
        if name == "drain":
            p.add_argument("--reason", type=_reason, help="why, in a few words: kept in the events")
            p.add_argument("--deadline", type=_duration,
                           help="after this long (e.g. 10m or 600), preempt runs still on the node: TERM, grace, "
                                "KILL; they continue elsewhere from their checkpoint")
    p = sub.add_parser("queues", help="queues with counts")
    _common(p, json_output=True)
    for name in ("pause", "resume"):
        p = sub.add_parser(name, help=f"{name} a queue")
        _common(p)
        p.add_argument("queue")
        if name == "pause":
            p.add_argument("--reason", type=_reason, help="why, in a few words: kept in the events")
    p = sub.add_parser("events", help="the audit log, newest first")
    _common(p, json_output=True)
    p.add_argument("--limit", type=_positive_int, default=50)
    p.add_argument("--kind")
    p.add_argument("--actor")
