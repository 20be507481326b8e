"""Where each `{param}` placeholder of a job's command stands in the shell's grammar, and its rendering there.

The value itself is never spliced into the command. Each placeholder becomes a reference to the environment
variable job.sh exports the value in (`SLUICE_PARAM_<NAME>`, written with `shlex.quote` on a line of its own),
quoted for the context the placeholder stands in (STYLE 16): `"${V}"` for an unquoted word, `${V}` inside
double quotes, `'"${V}"'` inside single quotes. The shell never parses the result of an expansion again, so
even a context this lexer misjudged can only split or glob the value, never run it. The lexer follows `sh`
just far enough to choose the quoting and to refuse, when the job is loaded and with the fix, the contexts
where an expanded value is read again or cannot be quoted (arithmetic, backticks, `${...}`, here-documents,
case patterns, `$'...'`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

#: A placeholder: `{name}` with an identifier inside. `${VAR}`, `{a,b}`, `{}` and `{ cmd; }` are not placeholders.
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

#: Contexts a value can be rendered into.
UNQUOTED = "unquoted"
DOUBLE_QUOTED = "double-quoted"
SINGLE_QUOTED = "single-quoted"
RENDERED = frozenset({UNQUOTED, DOUBLE_QUOTED, SINGLE_QUOTED})
#: Where the shell neither runs nor expands text: a placeholder there stays as written.
COMMENT = "in a comment"
QUOTED_HEREDOC = "in a here-document with a quoted delimiter"
#: Where braces stand for themselves, so an undeclared `{name}` is literal text, not a typo.
LITERAL = frozenset({SINGLE_QUOTED, COMMENT, QUOTED_HEREDOC})

#: Contexts where an expanded value is read again or cannot be one quoted word.
BACKTICKS = "inside backticks"
ARITHMETIC = "in an arithmetic expansion"
PARAMETER_EXPANSION = "in a ${...} expansion"
HEREDOC = "in a here-document"
HEREDOC_DELIMITER = "in a here-document delimiter"
CASE_PATTERN = "in a case pattern"
ANSI_C_QUOTES = "inside $'...' quotes"

#: Each unsafe context with the fix offered to the job's author.
UNSAFE_FIXES = {
    BACKTICKS: "use $( ... ) instead of backticks",
    ARITHMETIC: 'check the value is a number first, e.g. case "$SLUICE_PARAM_{NAME}" in '
                "*[!0-9]*) exit 2;; esac, then use $SLUICE_PARAM_{NAME} in the arithmetic",
    PARAMETER_EXPANSION: "use the environment variable instead, e.g. ${{VAR:-$SLUICE_PARAM_{NAME}}}",
    HEREDOC: 'use "$SLUICE_PARAM_{NAME}" in the here-document, or pass the value as an argument',
    QUOTED_HEREDOC: "use an unquoted delimiter and \"$SLUICE_PARAM_{NAME}\" in the here-document",
    HEREDOC_DELIMITER: "write the delimiter literally",
    CASE_PATTERN: 'compare with [ "$x" = {{{name}}} ] instead, or use "$SLUICE_PARAM_{NAME}" in the pattern',
    ANSI_C_QUOTES: "use '...' or \"...\" quotes",
}


class CommandSyntaxError(ValueError):
    """The command's quoting cannot be read (an unterminated quote or substitution)."""


@dataclass(frozen=True)
class Placeholder:
    """One `{name}` of the command: where it stands and in which context."""

    name: str
    start: int
    end: int
    context: str

    def fix(self) -> str:
        return UNSAFE_FIXES[self.context].format(NAME=self.name.upper(), name=self.name)


def find_placeholders(command: str) -> list[Placeholder]:
    """Every identifier placeholder of the command, in order, with its shell context."""
    lexer = _Lexer(command)
    lexer.command(stop=None)
    if lexer.heredocs:
        lexer.heredoc_bodies()
    return lexer.found


def problems(command: str, declared: set[str]) -> list[str]:
    """Why the command cannot take these params safely: unsafe contexts, undeclared names, unreadable quoting."""
    try:
        found = find_placeholders(command)
    except CommandSyntaxError as exc:
        return [str(exc)]
    names = ", ".join(sorted(declared)) or "none"
    said: list[str] = []
    for spot in found:
        if spot.name not in declared:
            if spot.context in LITERAL:
                continue
            said.append(f"{{{spot.name}}} names no declared param (declared: {names}); declare it under [params], "
                        f"or write it as '{{{spot.name}}}' if the braces are meant literally")
        elif spot.context not in RENDERED and spot.context != COMMENT:
            said.append(f"{{{spot.name}}} stands {spot.context}, where no value can be quoted safely: "
                        f"{spot.fix()}")
    return list(dict.fromkeys(said))


def param_variable(name: str) -> str:
    """The environment variable that carries a param's value to the job."""
    return f"SLUICE_PARAM_{name.upper()}"


def render(command: str, declared: Iterable[str]) -> str:
    """The command with each declared placeholder replaced by a reference to its param's variable."""
    params = set(declared)
    pieces: list[str] = []
    done = 0
    for spot in find_placeholders(command):
        if spot.name not in params or spot.context == COMMENT:
            continue
        if spot.context not in RENDERED:
            raise CommandSyntaxError(f"{{{spot.name}}} stands {spot.context}: {spot.fix()}")
        pieces += [command[done:spot.start], reference_for(spot.context, param_variable(spot.name))]
        done = spot.end
    return "".join(pieces) + command[done:]


def reference_for(context: str, variable: str) -> str:
    """Shell text that expands to exactly the variable's value, as one word, in this context."""
    if context == UNQUOTED:
        return f'"${{{variable}}}"'
    if context == DOUBLE_QUOTED:
        return f"${{{variable}}}"
    # Inside '...': close the quote, expand the variable double-quoted, reopen.
    return f"'\"${{{variable}}}\"'"


_OPERATOR_CHARS = ";&|<>()\n"
_BLANK = " \t"
#: Words after which the next word starts a command again.
_KEEP_COMMAND_START = frozenset({"then", "do", "else", "elif", "if", "while", "until", "!", "{", "}", "time"})


@dataclass
class _Level:
    """What the reader tracks at one command level (the whole command, or the inside of one `$(`)."""

    #: Per open case statement: "subject", "in", "pattern" or "body".
    case: list[str] = field(default_factory=list)
    #: Whether the next word is the first of a command (where reserved words count).
    at_start: bool = True
    #: Open ( subshells.
    depth: int = 0
    in_word: bool = False
    #: The plain text of the current word, None once it has quoting or an expansion in it.
    word: list[str] | None = field(default_factory=list)


class _Lexer:
    """A reader of POSIX sh syntax just deep enough to know each placeholder's context."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.found: list[Placeholder] = []
        #: Here-documents whose bodies start after the current line: (delimiter, quoted, strip tabs).
        self.heredocs: list[tuple[str, bool, bool]] = []
        #: Set while a case pattern is read: every placeholder in it is refused.
        self.in_pattern = False

    # -- helpers
    def peek(self, offset: int = 0) -> str:
        at = self.pos + offset
        return self.text[at] if at < len(self.text) else ""

    def starts(self, prefix: str) -> bool:
        return self.text.startswith(prefix, self.pos)

    def record(self, match: re.Match[str], context: str) -> None:
        if self.in_pattern and context in RENDERED:
            context = CASE_PATTERN
        self.found.append(Placeholder(match.group(1), match.start(), match.end(), context))

    def record_region(self, start: int, end: int, context: str) -> None:
        for match in PLACEHOLDER.finditer(self.text, start, end):
            self.found.append(Placeholder(match.group(1), match.start(), match.end(), context))

    def fail(self, what: str, start: int) -> CommandSyntaxError:
        line = self.text.count("\n", 0, start) + 1
        return CommandSyntaxError(f"cannot read the command's quoting: {what} opened on line {line} is never "
                                  "closed")

    # -- the command level
    def command(self, stop: str | None) -> None:
        """Read commands until `stop` (the `)` closing a `$(`) or the end; a case statement is tracked."""
        opened = self.pos
        level = _Level()
        while self.pos < len(self.text):
            ch = self.peek()
            if ch in _BLANK:
                self.end_word(level)
                self.pos += 1
            elif ch == "\\" and self.peek(1) == "\n":
                self.pos += 2
            elif ch == "#" and not level.in_word:
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                self.record_region(self.pos, end, COMMENT)
                self.pos = end
            elif ch in _OPERATOR_CHARS:
                self.end_word(level)
                if self.operator(level, stop):
                    return
            else:
                if not level.in_word:
                    level.in_word, level.word = True, []
                if not self.word_part(UNQUOTED, level.word):
                    level.word = None
        self.end_word(level)
        if stop is not None:
            raise self.fail("a $( substitution", opened)

    def end_word(self, level: _Level) -> None:
        """A word ended: track reserved words (`case ... in ... esac`) and whether a command starts next."""
        if not level.in_word:
            return
        text = "".join(level.word) if level.word is not None else None
        level.in_word, level.word = False, []
        case = level.case
        state = case[-1] if case else None
        if state == "subject":
            case[-1] = "in"
        elif state == "in":
            case[-1] = "pattern" if text == "in" else "in"
        elif text == "esac" and (state == "pattern" or (state == "body" and level.at_start)):
            case.pop()
            level.at_start = False
        elif level.at_start and text == "case":
            case.append("subject")
            level.at_start = False
        elif not (level.at_start and text in _KEEP_COMMAND_START):
            level.at_start = False
        self.in_pattern = bool(case) and case[-1] == "pattern"

    def operator(self, level: _Level, stop: str | None) -> bool:
        """Read the operator at pos; True if it is the `)` that closes this level."""
        ch, case = self.peek(), level.case
        in_pattern = bool(case) and case[-1] == "pattern"
        if ch == ")" and in_pattern:
            case[-1], self.in_pattern, level.at_start = "body", False, True
            self.pos += 1
        elif ch == "(" and in_pattern:
            self.pos += 1  # the optional ( before a pattern
        elif ch == ")":
            function = self.text[:self.pos].rstrip(_BLANK).endswith("(")  # `name()`: its body is a command
            self.pos += 1
            if level.depth == 0 and stop == ")":
                return True
            level.depth -= 1
            level.at_start = function
        elif ch == "(" and level.at_start and self.starts("(("):
            self.arithmetic(2)  # bash's (( ... )) command
            level.at_start = False
        elif ch == "(":
            level.depth += 1
            level.at_start = True
            self.pos += 1
        elif self.starts(";;") or self.starts(";&"):
            self.pos += 3 if self.starts(";;&") else 2
            if case:
                case[-1], self.in_pattern = "pattern", True
            level.at_start = True
        elif self.starts("<<") and not self.starts("<<<"):
            self.heredoc_operator()
        elif ch == "\n":
            self.pos += 1
            if self.heredocs:
                self.heredoc_bodies()
            if not (case and case[-1] in ("in", "subject")):
                level.at_start = True
        elif ch in "<>":
            self.pos += 1  # a redirection: the next word is its target, not a command
        else:
            self.pos += 1  # ; & |
            level.at_start = True
        return False

    def word_part(self, context: str, plain: list[str] | None) -> bool:
        """Read one piece of a word at pos; True if it was a plain character (kept in `plain`)."""
        ch = self.peek()
        if ch == "'":
            self.single_quoted()
            return False
        if ch == '"':
            self.pos += 1
            self.double_quoted()
            return False
        if ch == "\\":
            self.pos += 2
            return False
        if ch == "$":
            self.dollar()
            return False
        if ch == "`":
            self.backticks()
            return False
        if ch == "{" and (match := PLACEHOLDER.match(self.text, self.pos)):
            self.record(match, context)
            self.pos = match.end()
            return False
        if plain is not None:
            plain.append(ch)
        self.pos += 1
        return True

    # -- quotes and expansions
    def single_quoted(self) -> None:
        start = self.pos
        end = self.text.find("'", start + 1)
        if end < 0:
            raise self.fail("a single quote", start)
        self.record_quoted(start + 1, end, SINGLE_QUOTED)
        self.pos = end + 1

    def record_quoted(self, start: int, end: int, context: str) -> None:
        for match in PLACEHOLDER.finditer(self.text, start, end):
            self.record(match, context)

    def double_quoted(self) -> None:
        """Read after an opening `"` up to and including the closing one."""
        start = self.pos - 1
        while self.pos < len(self.text):
            ch = self.peek()
            if ch == '"':
                self.pos += 1
                return
            if ch == "\\":
                self.pos += 2
            elif ch == "$":
                self.dollar(in_double_quotes=True)
            elif ch == "`":
                self.backticks()
            elif ch == "{" and (match := PLACEHOLDER.match(self.text, self.pos)):
                self.record(match, DOUBLE_QUOTED)
                self.pos = match.end()
            else:
                self.pos += 1
        raise self.fail("a double quote", start)

    def dollar(self, in_double_quotes: bool = False) -> None:
        if self.starts("$(("):
            self.arithmetic(3)
        elif self.starts("$("):
            self.pos += 2
            outer = self.in_pattern
            self.in_pattern = False
            self.command(stop=")")
            self.in_pattern = outer
        elif self.starts("${"):
            self.parameter_expansion()
        elif in_double_quotes and self.peek(1) in "'\"":
            self.pos += 1  # inside "...", $' and $" are a plain $ and a quote character
        elif self.starts("$'"):
            self.escaped_region(2, "'", "a $' quote", ANSI_C_QUOTES)
        elif self.starts('$"'):
            self.pos += 2
            self.double_quoted()
        else:
            self.pos += 2 if self.peek(1) in "$#?!@*-0123456789" and self.peek(1) else 1

    def backticks(self) -> None:
        self.escaped_region(1, "`", "a backtick", BACKTICKS)

    def escaped_region(self, opening: int, closing: str, what: str, context: str) -> None:
        """Read up to the first `closing` not escaped by a backslash; every placeholder inside is in `context`."""
        start = self.pos
        end = self.pos + opening
        while end < len(self.text) and self.text[end] != closing:
            end += 2 if self.text[end] == "\\" else 1
        if end >= len(self.text):
            raise self.fail(what, start)
        self.record_region(start, end, context)
        self.pos = end + 1

    def arithmetic(self, opening: int) -> None:
        start = self.pos
        depth = 0
        at = self.pos + opening
        while at < len(self.text):
            ch = self.text[at]
            if ch == "(":
                depth += 1
            elif ch == ")":
                if depth == 0 and self.text.startswith("))", at):
                    self.record_region(start, at, ARITHMETIC)
                    self.pos = at + 2
                    return
                depth -= 1
            at += 1
        raise self.fail("an arithmetic expansion", start)

    def parameter_expansion(self) -> None:
        start = self.pos
        depth = 0
        at = self.pos + 2
        quote = ""
        while at < len(self.text):
            ch = self.text[at]
            if quote:
                if ch == "\\" and quote == '"':
                    at += 1
                elif ch == quote:
                    quote = ""
            elif ch in "'\"":
                quote = ch
            elif ch == "\\":
                at += 1
            elif ch == "{":
                depth += 1
            elif ch == "}":
                if depth == 0:
                    self.record_region(start, at, PARAMETER_EXPANSION)
                    self.pos = at + 1
                    return
                depth -= 1
            at += 1
        raise self.fail("a ${ expansion", start)

    # -- here-documents
    def heredoc_operator(self) -> None:
        self.pos += 2
        strip_tabs = self.peek() == "-"
        if strip_tabs:
            self.pos += 1
        while self.peek() in _BLANK and self.peek():
            self.pos += 1
        start = self.pos
        while self.pos < len(self.text) and self.peek() not in _BLANK + _OPERATOR_CHARS:
            ch = self.peek()
            if ch in "'\"":
                end = self.text.find(ch, self.pos + 1)
                if end < 0:
                    raise self.fail("a quote in a here-document delimiter", self.pos)
                self.pos = end + 1
            else:
                self.pos += 2 if ch == "\\" else 1
        raw = self.text[start:self.pos]
        self.record_region(start, self.pos, HEREDOC_DELIMITER)
        quoted = any(ch in raw for ch in "'\"\\")
        delimiter = re.sub(r"\\(.)", r"\1", raw).replace("'", "").replace('"', "")
        self.heredocs.append((delimiter, quoted, strip_tabs))

    def heredoc_bodies(self) -> None:
        """Read the bodies of the pending here-documents, which start at pos (just after a newline)."""
        for delimiter, quoted, strip_tabs in self.heredocs:
            start = self.pos
            while True:
                if self.pos >= len(self.text):
                    raise self.fail(f"a here-document (until {delimiter!r})", start)
                end = self.text.find("\n", self.pos)
                end = len(self.text) if end < 0 else end
                line = self.text[self.pos:end]
                if (line.lstrip("\t") if strip_tabs else line) == delimiter:
                    self.record_region(start, self.pos, QUOTED_HEREDOC if quoted else HEREDOC)
                    self.pos = min(end + 1, len(self.text))
                    break
                self.pos = end + 1
        self.heredocs = []
