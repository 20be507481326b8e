"""Shell completion: `sluice completion bash` prints a script that real bash loads, and it completes commands,
flags, and the job, node, queue and backfill names of the home on the line (else the default home)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from scheduler.home import Home, write_private

REPO = Path(__file__).resolve().parent.parent

NODES = """
[[node]]
name = "etl-01"
host = "127.0.0.1"
port = 1

[[node]]
name = "gpu-02"
host = "127.0.0.1"
port = 1
"""

QUEUES = """
[[queue]]
name = "reports"
priority = 5
"""

DAILY = """
command = "echo {day}"
[partition]
param = "day"
kind = "daily"
"""


def sluice(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "console.main", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONWARNINGS": "error", **(env or {})})


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """A home with two nodes, a declared queue, two jobs, a queue made by a submit, and one backfill."""
    home = Home(tmp_path / "home")
    assert sluice("init", "--home", str(home.root)).returncode == 0
    write_private(home.nodes_file, NODES)
    write_private(home.queues_file, QUEUES)
    for path in home.jobs_dir.glob("*.toml"):
        path.unlink()
    write_private(home.jobs_dir / "hello.toml", 'name = "hello"\ncommand = "echo hi"\n')
    write_private(home.jobs_dir / "daily.toml", 'name = "daily_load"\n' + DAILY)
    for args in (("submit", "hello", "--queue", "adhoc"),
                 ("backfill", "daily_load", "--from", "2026-01-01", "--to", "2026-01-03")):
        result = sluice(*args, "--home", str(home.root))
        assert result.returncode == 0, result.stderr
    return home


@pytest.fixture
def bash_env(tmp_path: Path) -> dict[str, str]:
    """PATH with a `sluice` that runs this tree, as an installed one would; HOME with no default home in it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "sluice"
    launcher.write_text(f'#!/bin/sh\nexec {sys.executable} -m console.main "$@"\n')
    launcher.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key != "SLUICE_HOME"}
    return {**env, "PATH": f"{bin_dir}:{env['PATH']}", "HOME": str(tmp_path / "user"),
            "XDG_STATE_HOME": str(tmp_path / "user" / "state"), "PYTHONPATH": str(REPO)}


def bash_complete(env: dict[str, str], words: list[str], cword: int | None = None) -> list[str]:
    """Load `sluice completion bash` in a real bash, run the function `complete -p sluice` names on `words`
    with the cursor on word `cword` (default the last), and return COMPREPLY."""
    script = subprocess.run(["sluice", "completion", "bash"], capture_output=True, text=True, env=env, timeout=60,
                            check=True).stdout
    cword = len(words) - 1 if cword is None else cword
    program = (
        'eval "$SCRIPT"\n'
        'spec=$(complete -p sluice) || exit 9\n'
        'function=$(printf "%s\\n" "$spec" | sed -n "s/.*-F \\([^ ]*\\) .*/\\1/p")\n'
        'COMP_WORDS=("$@"); COMP_CWORD=$CWORD; COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}\n'
        'COMPREPLY=()\n'
        '"$function" sluice "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    result = subprocess.run(["bash", "--norc", "--noprofile", "-c", program, "bash", *words], capture_output=True,
                            text=True, timeout=60, env={**env, "SCRIPT": script, "CWORD": str(cword)})
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "completion must never print onto the terminal"
    return [line for line in result.stdout.splitlines() if line]


def test_the_script_registers_a_completion_for_sluice(bash_env: dict[str, str]) -> None:
    script = sluice("completion", "bash").stdout
    result = subprocess.run(["bash", "--norc", "-c", 'eval "$SCRIPT"; complete -p sluice'], capture_output=True,
                            text=True, env={**bash_env, "SCRIPT": script}, timeout=60)
    assert result.returncode == 0 and "-F" in result.stdout and result.stdout.rstrip().endswith(" sluice")


def test_commands_complete(bash_env: dict[str, str]) -> None:
    commands = bash_complete(bash_env, ["sluice", ""])
    assert {"init", "scheduler", "submit", "backfill-show", "completion", "systemd-unit"} <= set(commands)
    assert not [word for word in commands if word.startswith("_")], "the hidden helper is not offered"
    assert set(bash_complete(bash_env, ["sluice", "backfill-s"])) == {"backfill-show", "backfill-set"}
    assert set(bash_complete(bash_env, ["sluice", "sub"])) == {"submit"}


def test_flags_of_the_command_complete(bash_env: dict[str, str]) -> None:
    flags = set(bash_complete(bash_env, ["sluice", "submit", "--"]))
    assert {"--queue", "--priority", "--param", "--json", "--home", "--jobs"} <= flags
    assert "--no-console" not in flags
    assert set(bash_complete(bash_env, ["sluice", "--"])) >= {"--home", "--jobs"}


def test_job_names_complete_from_the_home_before_the_command(bash_env: dict[str, str], home: Home) -> None:
    assert bash_complete(bash_env, ["sluice", "--home", str(home.root), "submit", ""]) == ["daily_load", "hello"]
    assert bash_complete(bash_env, ["sluice", "--home", str(home.root), "backfill", "da"]) == ["daily_load"]


def test_a_home_given_with_equals_counts_as_bash_splits_it(bash_env: dict[str, str], home: Home) -> None:
    # bash breaks `--home=DIR` into three words at the `=` (COMP_WORDBREAKS)
    words = ["sluice", "--home", "=", str(home.root), "drain", ""]
    assert bash_complete(bash_env, words) == ["etl-01", "gpu-02"]
    assert bash_complete(bash_env, ["sluice", f"--home={home.root}", "drain", ""]) == ["etl-01", "gpu-02"]


def test_a_param_split_at_its_equals_is_one_argument(bash_env: dict[str, str], home: Home) -> None:
    words = ["sluice", "--home", str(home.root), "backfill", "-p", "day", "=", "1", "daily"]
    assert bash_complete(bash_env, words) == ["daily_load"]
    assert bash_complete(bash_env, ["sluice", "--home", str(home.root), "drain", "-p", "x", "=", ""]) == []


def test_job_names_complete_from_the_home_after_the_cursor(bash_env: dict[str, str], home: Home) -> None:
    assert bash_complete(bash_env, ["sluice", "submit", "h", "--home", str(home.root)], cword=2) == ["hello"]


def test_names_complete_from_the_default_home(bash_env: dict[str, str], home: Home) -> None:
    env = {**bash_env, "SLUICE_HOME": str(home.root)}
    assert bash_complete(env, ["sluice", "drain", ""]) == ["etl-01", "gpu-02"]


def test_node_names_complete(bash_env: dict[str, str], home: Home) -> None:
    assert bash_complete(bash_env, ["sluice", "undrain", "--home", str(home.root), "g"]) == ["gpu-02"]
    assert bash_complete(bash_env, ["sluice", "runs", "--home", str(home.root), "--node", ""]) == ["etl-01", "gpu-02"]


def test_queue_names_complete_from_the_store_and_queues_toml(bash_env: dict[str, str], home: Home) -> None:
    queues = bash_complete(bash_env, ["sluice", "--home", str(home.root), "pause", ""])
    assert queues == ["adhoc", "default", "reports"]
    assert bash_complete(bash_env, ["sluice", "--home", str(home.root), "runs", "--queue", "re"]) == ["reports"]


def test_backfill_ids_complete(bash_env: dict[str, str], home: Home) -> None:
    assert bash_complete(bash_env, ["sluice", "--home", str(home.root), "backfill-show", ""]) == ["1"]
    assert bash_complete(bash_env, ["sluice", "runs", "--backfill", "", "--home", str(home.root)], cword=3) == ["1"]


def test_option_values_complete(bash_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "homes" / "alpha").mkdir(parents=True)
    assert bash_complete(bash_env, ["sluice", "--home", str(tmp_path / "homes" / "al")]) == [
        str(tmp_path / "homes" / "alpha")]
    assert set(bash_complete(bash_env, ["sluice", "backfill", "--order", ""])) == {"oldest-first", "newest-first"}
    assert bash_complete(bash_env, ["sluice", "completion", ""]) == ["bash", "zsh"]


def test_a_missing_or_broken_home_completes_nothing_quietly(bash_env: dict[str, str], tmp_path: Path) -> None:
    assert bash_complete(bash_env, ["sluice", "--home", str(tmp_path / "nowhere"), "submit", ""]) == []
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "sluice.db").write_bytes(b"not a database")
    (broken / "nodes.toml").write_text("[[node]\nname = ")
    assert bash_complete(bash_env, ["sluice", "--home", str(broken), "drain", ""]) == []
    assert bash_complete(bash_env, ["sluice", "--home", str(broken), "pause", ""]) == ["default"]


def test_the_helper_prints_names_one_per_line(home: Home) -> None:
    result = sluice("__complete", "queues", "--home", str(home.root))
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == "adhoc\ndefault\nreports\n"


def test_the_helper_reads_the_store_without_changing_it(home: Home) -> None:
    before = {path.name: path.stat().st_mtime_ns for path in home.root.iterdir()}
    assert sluice("__complete", "backfills", "--home", str(home.root)).stdout == "1\n"
    assert {path.name: path.stat().st_mtime_ns for path in home.root.iterdir()} == before


#: Types a line into a real interactive zsh with the script loaded, presses Tab, and writes the line as it is
#: then ($1 the script, $2 the line, $3 the file).
ZSH_DRIVER = r"""
zmodload zsh/zpty
zpty z 'zsh -f -i'
zpty -w z "autoload -Uz compinit; compinit -u -D; source ${(q)1}; _dump() { print -r -- \"\$BUFFER\" > ${(q)3}; }; zle -N _dump; bindkey '^T' _dump"
zpty -w -n z "$2"$'\t\C-t'
for i in {1..600}; do [[ -s $3 ]] && break; sleep 0.1; done
zpty -d z
"""


def zsh() -> str:
    path = shutil.which("zsh")
    if path is None:
        if os.environ.get("SLUICE_REQUIRE_SSHD"):  # CI installs zsh (.ci/run): the check must run there
            pytest.fail("zsh is not installed")
        pytest.skip("zsh is not installed")
    return path


def zsh_complete(env: dict[str, str], tmp_path: Path, line: str) -> str:
    """The line after one Tab in a real zsh with `sluice completion zsh` loaded."""
    script = tmp_path / "sluice.zsh"
    script.write_text(subprocess.run(["sluice", "completion", "zsh"], capture_output=True, text=True, env=env,
                                     timeout=60, check=True).stdout)
    driver = tmp_path / "driver.zsh"
    driver.write_text(ZSH_DRIVER)
    buffer = tmp_path / "buffer"
    buffer.unlink(missing_ok=True)
    subprocess.run([zsh(), "-f", str(driver), str(script), line, str(buffer)], env=env, timeout=120,
                   capture_output=True)
    return buffer.read_text().rstrip("\n") if buffer.exists() else ""


def test_zsh_script_parses(tmp_path: Path) -> None:
    result = sluice("completion", "zsh")
    assert result.returncode == 0 and "compdef _sluice_zsh sluice" in result.stdout
    script = tmp_path / "sluice.zsh"
    script.write_text(result.stdout)
    assert subprocess.run([zsh(), "-n", str(script)], capture_output=True, timeout=60).returncode == 0


def test_zsh_completes_commands_and_names(bash_env: dict[str, str], home: Home, tmp_path: Path) -> None:
    at = f"sluice --home {home.root}"
    assert zsh_complete(bash_env, tmp_path, "sluice dra") == "sluice drain "
    assert zsh_complete(bash_env, tmp_path, f"{at} submit he") == f"{at} submit hello "
    assert zsh_complete(bash_env, tmp_path, f"{at} drain gp") == f"{at} drain gpu-02 "
    assert zsh_complete(bash_env, tmp_path, f"{at} pause rep") == f"{at} pause reports "
    assert zsh_complete(bash_env, tmp_path, f"{at} backfill-show ") == f"{at} backfill-show 1 "
    assert zsh_complete(bash_env, tmp_path, "sluice backfill --order new") == "sluice backfill --order newest-first "


def test_zsh_completes_the_home_folder(bash_env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "homes" / "alpha").mkdir(parents=True)
    line = zsh_complete(bash_env, tmp_path, f"sluice --home {tmp_path}/homes/al")
    assert line == f"sluice --home {tmp_path}/homes/alpha/"


def test_an_unknown_shell_is_refused() -> None:
    result = sluice("completion", "fish")
    assert result.returncode == 2 and "bash" in result.stderr and "Traceback" not in result.stderr
