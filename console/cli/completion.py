"""`sluice completion bash|zsh`: a completion script, written from the parser itself so every command and flag
is in it, that asks `sluice __complete KIND` (complete_names.py) for the home's job, node, queue and backfill names.

The script has a shared part, plain shell that bash runs as it is and zsh runs with ksh_arrays and sh_word_split
(so it is tested once, in bash), and a few lines per shell that turn its answer into that shell's completions.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable
from typing import Any

#: Which names complete the value of an argument, by its dest; the kinds `sluice __complete` knows.
NAME_KINDS = {"job": "jobs", "node": "nodes", "queue": "queues", "backfill": "backfills"}
#: Arguments whose value is a folder or a file.
FOLDERS = frozenset({"home", "jobs", "global_home", "global_jobs"})
FILES = frozenset({"params_file"})
SHELLS = ("bash", "zsh")


def add_parser(sub: Any) -> None:
    p = sub.add_parser("completion", help="print a shell completion script (bash or zsh)",
                       description="bash: add `source <(sluice completion bash)` to ~/.bashrc; zsh: add "
                                   "`source <(sluice completion zsh)` to ~/.zshrc after compinit.")
    p.add_argument("shell", choices=SHELLS)


def _kind(action: argparse.Action) -> str:
    """What completes this argument's value: a name kind, `dirs`, `files`, `=word word`, or nothing."""
    if action.dest in FOLDERS:
        return "dirs"
    if action.dest in FILES:
        return "files"
    if action.choices:
        return "=" + " ".join(str(choice) for choice in action.choices)
    return NAME_KINDS.get(action.dest, "")


def _takes_value(action: argparse.Action) -> bool:
    return bool(action.option_strings) and action.nargs != 0


def _word(text: str) -> str:
    """`text` in single quotes for the script."""
    return "'" + text.replace("'", "'\\''") + "'"


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The commands `sluice --help` lists (a command without help is hidden), by name."""
    # argparse has no public way to list a parser's arguments; these are what its own help formatter reads.
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    listed = {action.dest for action in sub._choices_actions}
    return {name: command for name, command in sub.choices.items() if name in listed}


def _case(function: str, comment: str, subject: str, arms: Iterable[tuple[list[str], str]],
          otherwise: str = "") -> list[str]:
    """A shell function of one `case` on `subject`, each arm some literal patterns and a body."""
    lines = [f"{function}() {{  # {comment}", f"  case {subject} in"]
    lines += [f"    {'|'.join(_word(pattern) for pattern in patterns)}) {body};;" for patterns, body in arms]
    return lines + ([f"    *) {otherwise};;"] if otherwise else []) + ["  esac", "}"]


def _tables(parser: argparse.ArgumentParser) -> list[str]:
    """The shell functions that hold what the parser knows: commands, flags, value kinds, positionals."""
    commands = _commands(parser)
    everyone = {"": parser, **commands}
    flags: list[tuple[list[str], str]] = []
    values: list[tuple[list[str], str]] = []
    positionals: list[tuple[list[str], str]] = []
    for name, command in everyone.items():
        actions = [a for a in command._actions if not isinstance(a, argparse._SubParsersAction)]
        options = [option for action in actions for option in action.option_strings]
        flags.append(([name], f"_sluice_words={_word(' '.join(options))}"))
        for action in actions:
            if _takes_value(action):
                values.append(([f"{name} {option}" for option in action.option_strings], f"echo {_word(_kind(action))}"))
        arms = []
        for index, action in enumerate(a for a in actions if not a.option_strings):
            repeats = action.nargs in ("*", "+", argparse.REMAINDER)
            arms.append(f"{'*' if repeats else index}) echo {_word(_kind(action))};;")
        if name and arms:
            positionals.append(([name], "case \"$2\" in " + " ".join(arms) + " esac"))
    return [
        f"_sluice_commands={_word(' '.join(commands))}",
        *_case("_sluice_flags", "the flags of command $1 (empty: before the command)", '"$1"', flags),
        *_case("_sluice_value_kind", "what completes the value of option $2 of command $1 (exit 1: no value)",
               '"$1 $2"', values, "return 1"),
        *_case("_sluice_positional_kind", "what completes positional argument $2 (from 0) of command $1", '"$1"',
               positionals),
    ]


#: The shared part: decides what the word under the cursor is, from COMP_WORDS and COMP_CWORD (0-based).
_SHARED = r'''
_sluice_names() {  # names of kind $1 from the home on the line (--home, --jobs), else the default home
  local program="${COMP_WORDS[0]}" i=1 home_dir="" jobs_dir="" word value
  while [ "$i" -lt "${#COMP_WORDS[@]}" ]; do
    word="${COMP_WORDS[$i]}"
    if [ "$i" -ne "$COMP_CWORD" ]; then
      case "$word" in
        --home=*) home_dir="${word#--home=}";;
        --jobs=*) jobs_dir="${word#--jobs=}";;
        --home|--jobs)
          value=$((i + 1))
          # bash splits `--home=DIR` at the `=` (COMP_WORDBREAKS): --home, =, DIR
          [ "${COMP_WORDS[$value]}" = "=" ] && value=$((value + 1))
          if [ "$value" -ne "$COMP_CWORD" ] && [ "$value" -lt "${#COMP_WORDS[@]}" ]; then
            if [ "$word" = --home ]; then home_dir="${COMP_WORDS[$value]}"; else jobs_dir="${COMP_WORDS[$value]}"; fi
          fi;;
      esac
    fi
    i=$((i + 1))
  done
  set -- "$1"
  [ -n "$home_dir" ] && set -- "$@" --home "${home_dir/#\~/$HOME}"
  [ -n "$jobs_dir" ] && set -- "$@" --jobs "${jobs_dir/#\~/$HOME}"
  "$program" __complete "$@" 2>/dev/null
}

_sluice_complete_words() {  # sets _sluice_kind (words, dirs or files) and _sluice_words
  local i=1 word command="" option="" count=0 kind=""
  local current="${COMP_WORDS[$COMP_CWORD]}"
  _sluice_kind=words
  _sluice_words=""
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word="${COMP_WORDS[$i]}"
    case "$word" in
      -*)
        if _sluice_value_kind "$command" "$word" >/dev/null; then
          option="$word"
          i=$((i + 1))
          [ "${COMP_WORDS[$i]}" = "=" ] && [ "$i" -lt "$COMP_CWORD" ] && i=$((i + 1))
        fi;;
      "=")  # the rest of a NAME=VALUE that bash split at the `=`: part of the word before it
        [ $((i + 1)) -lt "$COMP_CWORD" ] && i=$((i + 1));;
      *) if [ -z "$command" ]; then command="$word"; else count=$((count + 1)); fi;;
    esac
    i=$((i + 1))
  done
  if [ "$i" -gt "$COMP_CWORD" ]; then
    kind=$(_sluice_value_kind "$command" "$option")
  elif [ "${current#-}" != "$current" ]; then
    _sluice_flags "$command"
    return
  elif [ "${COMP_WORDS[$((COMP_CWORD - 1))]}" = "=" ]; then
    return  # a VALUE after NAME=: nothing known completes it
  elif [ -z "$command" ]; then
    _sluice_words="$_sluice_commands"
    return
  else
    kind=$(_sluice_positional_kind "$command" "$count")
  fi
  case "$kind" in
    dirs|files) _sluice_kind="$kind";;
    "="*) _sluice_words="${kind#=}";;  # quoted: a bare =word is a command's path in zsh
    "") ;;
    *) _sluice_words=$(_sluice_names "$kind");;
  esac
}
'''

_BASH = r'''
_sluice() {
  local _sluice_kind _sluice_words current="${COMP_WORDS[$COMP_CWORD]}"
  [ "$current" = "=" ] && current=""  # the cursor right after `--home=`
  _sluice_complete_words
  case "$_sluice_kind" in
    dirs) mapfile -t COMPREPLY < <(compgen -d -- "$current"); compopt -o filenames 2>/dev/null;;
    files) mapfile -t COMPREPLY < <(compgen -f -- "$current"); compopt -o filenames 2>/dev/null;;
    *) mapfile -t COMPREPLY < <(compgen -W "$_sluice_words" -- "$current");;
  esac
  return 0
}
complete -F _sluice sluice
'''

_ZSH = r'''
_sluice_zsh_words() {  # the shared part, in the bash-like options it is written for
  setopt localoptions ksh_arrays sh_word_split
  COMP_WORDS=("${words[@]}")
  COMP_CWORD=$((CURRENT - 1))
  _sluice_complete_words
}

_sluice_zsh() {
  local -a COMP_WORDS candidates
  local COMP_CWORD _sluice_kind _sluice_words
  _sluice_zsh_words
  case "$_sluice_kind" in
    dirs) _files -/;;
    files) _files;;
    *) candidates=(${=_sluice_words}); compadd -a candidates;;
  esac
}
compdef _sluice_zsh sluice
'''


def script(parser: argparse.ArgumentParser, shell: str) -> str:
    head = [f"# {shell} completion for sluice, written by `sluice completion {shell}`: load it from your shell's",
            f"# startup file with `source <(sluice completion {shell})`" + (" (after compinit)." if shell == "zsh"
                                                                           else ".")]
    body = "\n".join(_tables(parser)) + "\n" + _SHARED + (_ZSH if shell == "zsh" else _BASH)
    return "\n".join(head) + "\n" + body


def completion(args: argparse.Namespace) -> int:
    from .parser import build_parser  # the parser builds this command: import it only when it runs

    print(script(build_parser(), args.shell), end="")
    return 0
