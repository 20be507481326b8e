"""A param value reaches the job byte for byte in every shell context it can stand in, and never runs as code."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from cluster import cluster  # noqa: F401  (fixture)
from harness import SluiceHome
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.demo.localnode import LocalFleet
from scheduler.config import load_job_file
from scheduler.errors import ConfigError
from scheduler.jobspec import render_command
from scheduler.shellwords import find_placeholders, param_variable, problems

#: The command of the report: the quoting of the shipped sample jobs, a double- and a single-quoted placeholder.
REPORTED_COMMAND = """echo "hello {who}"; echo 'single {who}'"""
#: The five values that ran code on every worker (each created its file).
REPORTED_VALUES = ["$(touch F1)", "`touch F2`", "a b;touch F3", "x' ; touch F4 ; '", 'x" ; touch F5 ; "']


def hostile_values(sentinel: Path) -> dict[str, str]:
    """Values that would run `touch` in the sentinel folder, or change the command, if they became code."""
    s = str(sentinel)
    return {
        "command substitution": f"$(touch {s}/subst)",
        "backticks": f"`touch {s}/backticks`",
        "semicolon": f"a; touch {s}/semicolon",
        "and": f"a && touch {s}/and",
        "pipe": f"a | touch {s}/pipe",
        "single quote": f"x' ; touch {s}/single ; '",
        "double quote": f'x" ; touch {s}/double ; "',
        "both quotes": f"""'"'"; touch {s}/both""",
        "backslashes": "back\\slash\\ and \\\\ and \\n and \\",
        "newlines": f"line one\nline two; touch {s}/newline\n",
        "glob": "* .* /*",
        "leading dash": "-n -e --help",
        "dollar and braces": "${HOME} $HOME {who} $((1+1)) ${x:-y}",
        "empty": "",
        "invalid UTF-8": os.fsdecode(b"caf\xe9 \xff\xfe bytes"),
        "100 KB": ("ab'c\"d$e`f\\g\n" * 7500)[:100_000],
    }


#: A command printing the value in each renderable context, with separators no corpus value contains.
CONTEXTS = {
    "unquoted": "printf '%s' {v}",
    "double-quoted": 'printf \'%s\' "<{v}>"',
    "single-quoted": "printf '%s' '[{v}]'",
    "inside $( ) inside double quotes": 'printf \'%s\' "$(printf \'%s\' "<{v}>")"',
}
WRAP = {"unquoted": "{}", "double-quoted": "<{}>", "single-quoted": "[{}]", "inside $( ) inside double quotes": "<{}>"}


def run_sh(script: str, cwd: Path, env: dict[str, str] | None = None, shell: str = "sh") -> bytes:
    done = subprocess.run([shell, "-c", script], cwd=cwd, capture_output=True, timeout=30, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def run_rendered(command: str, params: dict[str, str], cwd: Path, shell: str = "sh") -> bytes:
    """The rendered command run as job.sh runs it: each param's value in its exported variable."""
    env = {**os.environ, **{param_variable(name): value for name, value in params.items()}}
    return run_sh(render_command(command, params), cwd, env, shell)


def test_the_five_reported_values_print_themselves_and_run_nothing(tmp_path: Path) -> None:
    for value in REPORTED_VALUES:
        out = run_rendered(REPORTED_COMMAND, {"who": value}, tmp_path)
        assert out == f"hello {value}\nsingle {value}\n".encode()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_every_hostile_value_arrives_byte_for_byte_in_every_context(tmp_path: Path, context: str) -> None:
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    for name, value in hostile_values(sentinel).items():
        expected = WRAP[context].replace("{}", value)
        assert run_rendered(CONTEXTS[context], {"v": value}, tmp_path) == os.fsencode(expected), name
    assert list(sentinel.iterdir()) == []


#: (command, what it prints with "{}" standing for the value).
_SEGMENTS = [
    ("printf '%s' {v}", "{}"),
    ("printf '%s' x{v}y", "x{}y"),
    ('printf \'%s\' "{v}"', "{}"),
    ('printf \'%s\' "a {v} b"', "a {} b"),
    ("printf '%s' '{v}'", "{}"),
    ("printf '%s' 'a {v} b'", "a {} b"),
    # $( ) drops trailing newlines whatever the quoting: the _ keeps them.
    ("printf '%s' \"$(printf '%s_' {v})\"", "{}_"),
    ("printf '%s' \"$(printf '%s_' \"{v}\")\"", "{}_"),
    ("case {v} in *) printf '%s' {v};; esac", "{}"),
    ("v={v}; printf '%s' \"$v\"", "{}"),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(segments=st.lists(st.sampled_from(_SEGMENTS), min_size=1, max_size=4),
       value=st.text(st.characters(exclude_characters="\x00", codec="utf-8"), max_size=60))
def test_random_values_in_random_commands_arrive_intact(
        tmp_path: Path, segments: list[tuple[str, str]], value: str) -> None:
    command = "; printf '|'; ".join(segment for segment, _ in segments)
    expected = "|".join(printed.replace("{}", value) for _, printed in segments)
    assert run_rendered(command, {"v": value}, tmp_path) == expected.encode()


def _job(tmp_path: Path, command: str, params: str = 'x = "1"') -> Path:
    path = tmp_path / "job.toml"
    path.write_text(f"command = '''{command}'''\n[params]\n{params}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("command", "context", "fix"), [
    ("echo `echo {x}`", "inside backticks", "$( ... )"),
    ("echo $(( {x} + 1 ))", "in an arithmetic expansion", "is a number"),
    ("cat <<EOF\n{x}\nEOF", "in a here-document", '"$SLUICE_PARAM_X"'),
    ("cat <<'EOF'\n{x}\nEOF", "in a here-document with a quoted delimiter", "unquoted delimiter"),
    ("case $a in {x}) echo;; esac", "in a case pattern", "[ \"$x\" = {x} ]"),
    ('case $a in a) ;; "{x}"|b) echo;; esac', "in a case pattern", "[ \"$x\" = {x} ]"),
    ("echo ${a:-{x}}", "in a ${...} expansion", "${VAR:-$SLUICE_PARAM_X}"),
    ("echo $'{x}'", "inside $'...' quotes", "'...'"),
])
def test_a_placeholder_where_no_value_can_be_quoted_is_refused_at_load_with_the_fix(
        tmp_path: Path, command: str, context: str, fix: str) -> None:
    path = _job(tmp_path, command)
    with pytest.raises(ConfigError) as refused:
        load_job_file(path)
    said = str(refused.value)
    assert said.startswith(f"{path}: command: {{x}} stands {context}, where no value can be quoted safely")
    assert fix in said


def test_a_placeholder_naming_no_declared_param_is_refused_with_the_declared_names(tmp_path: Path) -> None:
    path = _job(tmp_path, 'echo "loading {dya}"', 'day = "2026-01-01"\nregion = "eu"')
    with pytest.raises(ConfigError) as refused:
        load_job_file(path)
    assert str(refused.value) == (
        f"{path}: command: {{dya}} names no declared param (declared: day, region); declare it under [params], "
        "or write it as '{dya}' if the braces are meant literally")


def test_shell_syntax_that_only_looks_like_a_placeholder_keeps_working(tmp_path: Path) -> None:
    # {a,b} is brace expansion in bash and literal in dash: either way it is not a placeholder.
    command = ("X=set; printf '%s ' ${X}; : {a,b}; find . -maxdepth 0 -exec printf '%s ' {} \\; ; "
               "printf 'one two\\n' | awk '{print $2}'; printf '%s' '{undeclared}'; : <<'E'\n{literal}\nE\n"
               "# a {comment} stays\n{ printf 'group'; }")
    job = load_job_file(_job(tmp_path, command))
    assert render_command(job.command, {"x": "1"}) == command
    assert run_sh(command, tmp_path) == b"set . two\n{undeclared}group"


def test_placeholders_in_comments_are_left_as_written(tmp_path: Path) -> None:
    command = "# uses {x}\nprintf '%s' {x}"
    assert render_command(command, {"x": "a\nb; touch bad"}) == "# uses {x}\nprintf '%s' \"${SLUICE_PARAM_X}\""


def test_params_that_collide_in_the_environment_are_refused(tmp_path: Path) -> None:
    path = _job(tmp_path, "echo {a} {A}", 'a = "1"\nA = "2"')
    with pytest.raises(ConfigError) as refused:
        load_job_file(path)
    assert str(refused.value) == (f"{path}: params: params 'A' and 'a' would both reach the job as "
                                  "SLUICE_PARAM_A: rename one")


def test_an_unterminated_quote_is_refused_at_load_naming_its_line(tmp_path: Path) -> None:
    path = _job(tmp_path, "echo ok\necho 'oops {x}")
    with pytest.raises(ConfigError, match=r"command: cannot read the command's quoting: a single quote opened "
                                          r"on line 2 is never closed"):
        load_job_file(path)


def test_the_lexer_finds_each_context_of_a_mixed_command() -> None:
    command = 'a {x} "b {x} $(c {x} "{x}")" \'{x}\' `{x}` $(( {x} )) ${y:-{x}}'
    assert [spot.context for spot in find_placeholders(command)] == [
        "unquoted", "double-quoted", "unquoted", "double-quoted", "single-quoted", "inside backticks",
        "in an arithmetic expansion", "in a ${...} expansion"]


async def test_hostile_values_reach_the_job_intact_over_ssh(cluster: SluiceHome, tmp_path: Path) -> None:  # noqa: F811
    sentinel = tmp_path / "sentinel"
    sentinel.mkdir()
    command = "; printf '\\n::\\n'; ".join(CONTEXTS[name] for name in sorted(CONTEXTS))
    cluster.add_job("echo_value", f"command = '''{command}'''\n[params]\nv = \"\"\n")
    cluster.add_job("reported", f"command = '''{REPORTED_COMMAND}'''\nworkdir = '{sentinel}'\n[params]\nwho = \"\"\n")
    await cluster.start_scheduler()
    values = hostile_values(sentinel)
    runs = {name: await cluster.submit("echo_value", f"v={value}") for name, value in values.items()}
    reported = {value: await cluster.submit("reported", f"who={value}") for value in REPORTED_VALUES}
    for name, run_id in runs.items():
        assert (await cluster.wait_ended(run_id))["status"] == "succeeded", name
        expected = "\n::\n".join(WRAP[context].replace("{}", values[name]) for context in sorted(CONTEXTS))
        assert (await cluster.cli("logs", str(run_id))).stdout == os.fsencode(expected), name
    for value, run_id in reported.items():
        assert (await cluster.wait_ended(run_id))["status"] == "succeeded"
        assert (await cluster.cli("logs", str(run_id))).stdout == f"hello {value}\nsingle {value}\n".encode()
    assert list(sentinel.iterdir()) == []


async def test_a_nul_in_a_value_is_refused_with_a_clear_message(cluster: SluiceHome) -> None:  # noqa: F811
    cluster.add_job("echo_value", "command = \"printf '%s' {v}\"\n[params]\nv = \"\"\n")
    params = cluster.home.root / "params.txt"
    params.write_text('{"v": "a\\u0000b"}\n', encoding="utf-8")
    refused = await cluster.cli("submit", "echo_value", "--params-file", str(params))
    assert refused.code == 2
    assert "param v contains a NUL byte" in refused.stderr and "Traceback" not in refused.stderr
    assert (await cluster.cli_json("runs"))["runs"] == []


@pytest.mark.parametrize(("command", "contexts"), [
    ("( echo {x} ) && echo \"{x}\"", ["unquoted", "double-quoted"]),
    ("echo $(case $a in b) echo {x};; esac) {x}", ["unquoted", "unquoted"]),
    ("case $a in\n  (b|c) echo {x} ;;\n  *) case {x} in d) :;; esac ;;\nesac; echo {x}",
     ["unquoted", "unquoted", "unquoted"]),
    ("cat <<A <<-'B'; echo {x}\none {x}\nA\n\ttwo {x}\n\tB\necho '{x}'",
     ["unquoted", "in a here-document", "in a here-document with a quoted delimiter", "single-quoted"]),
    ("echo \\{x} \\\"{x}\\\"", ["unquoted"]),
    ("echo \"a\\\"{x}\\$b\" $$x {x}", ["double-quoted", "unquoted"]),
])
def test_the_lexer_tracks_subshells_case_statements_and_here_documents(command: str, contexts: list[str]) -> None:
    assert [spot.context for spot in find_placeholders(command)] == contexts


def test_rendered_case_subjects_and_bodies_run_the_value_as_data(tmp_path: Path) -> None:
    command = "case {x} in *';'*) printf 'semi:%s' {x};; *) printf 'other';; esac"
    value = "a;b'$(touch bad)"
    assert run_rendered(command, {"x": value}, tmp_path) == f"semi:{value}".encode()
    assert list(tmp_path.iterdir()) == []


#: Commands (with a value) that ran code when values were spliced into the text and the lexer misjudged their
#: context (found in review). Rendered as references, a misjudged context can no longer run anything.
MISJUDGED = [
    ('echo "$" {x} ""', "a;touch F"),
    ("echo \"$'\" '{x}' #\"", "'; touch F; '"),
    ("echo \"$\\\n(echo '{x}')\"", "'; touch F; '"),
    ("cat <\\\n<EOF\n{x}\nEOF", "$(touch F)"),
    ("cat <<EOF\nfoo\\\nEOF\necho {x}\nEOF", "$(touch F)"),
    ("((echo '))'); echo {x}) #'", "a;touch F"),
    ("echo \"$(f() case a in a) echo '{x}';; esac; f)\"", "'; touch F; '"),
    ('echo "${u:-\'}" \'}\' {x} #"', "a;touch F"),
]


@pytest.mark.parametrize("shell", ["dash", "bash"])
@pytest.mark.parametrize(("command", "value"), MISJUDGED)
def test_a_context_the_lexer_misjudges_still_never_runs_the_value(
        tmp_path: Path, shell: str, command: str, value: str) -> None:
    assert problems(command, {"x"}) == []
    done = subprocess.run([shell, "-c", render_command(command, {"x": value})], cwd=tmp_path, capture_output=True,
                          timeout=30, check=False, env={**os.environ, "SLUICE_PARAM_X": value})
    assert not (tmp_path / "F").exists(), (done.stdout, done.stderr)


async def test_a_stored_run_whose_command_is_now_refused_fails_alone_and_dispatch_goes_on(
        tmp_path: Path, local_fleet: LocalFleet) -> None:
    home = SluiceHome(tmp_path, local_fleet.nodes_toml(slots=2, workdir=str(tmp_path / "workers")))
    home.add_job("old", "command = \"echo {x}\"\n[params]\nx = \"1\"\n")
    home.add_job("plain", "command = \"echo plain\"\n")
    old = await home.submit("old")
    # As an older Sluice stored it: a placeholder inside backticks, which this one refuses at load.
    with sqlite3.connect(home.home.db_path) as db:
        definition = json.loads(db.execute("SELECT definition FROM runs WHERE id = ?", (old,)).fetchone()[0])
        definition["command"] = "echo `echo {x}`"
        db.execute("UPDATE runs SET definition = ? WHERE id = ?", (json.dumps(definition), old))
    plain = await home.submit("plain")
    await home.run_until_idle()
    refused, done = await home.run_json(old), await home.run_json(plain)
    assert (refused["status"], refused["attempts"]) == ("failed", [])
    assert refused["events"][-1]["kind"] == "dispatch_refused"
    assert refused["events"][-1]["detail"].startswith("{x} stands inside backticks")
    assert done["status"] == "succeeded"
