"""Source text and spans: character offsets in, line and column out.

A `Span` is a pair of character offsets into one `SourceFile`; lines and
columns are computed on demand for people (1-based), for the LSP (0-based,
UTF-16 code units) and for the caret renderer. CR, LF and CRLF each end a line.
"""

from __future__ import annotations

import bisect
import errno
import functools
import os
import re
import stat
import typing as t

import msgspec

_LINE_BREAK = re.compile(r"\r\n|\r|\n")

# The most mpl reads of any input file (sources, Modelfiles, Meton's config.yaml): 16 MiB.
MAX_BYTES = 16 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a FIFO (named pipe)")."""
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _refuse_irregular(mode: int) -> None:
    """Raise `OSError` (its `strerror` says what the file is) unless `mode` is a regular file's."""
    if not stat.S_ISREG(mode):
        raise OSError(errno.EINVAL, f"it is {file_kind(mode)}, not a regular file")


def read_file(path: str | os.PathLike[str], limit: int = MAX_BYTES, *, whole: bool = False) -> bytes:
    """Read a regular file, at most `limit` + 1 bytes of it: the one reader of every input file.

    A FIFO, a device, a socket or a folder raises `OSError` whose `strerror`
    says what it is (``it is a FIFO (named pipe), not a regular file``),
    before anything is read: the file is looked at before it is opened, and
    opened without blocking, so a FIFO cannot hang the reader, and a symbolic
    link to `/dev/zero` cannot make it read without end. More than `limit`
    bytes come back as `limit` + 1 bytes (the caller says the file is too
    large); with `whole`, that raises `OSError` (EFBIG) instead.
    """
    try:
        _refuse_irregular(os.stat(path).st_mode)
    except ValueError:  # a NUL in the name
        raise OSError(errno.EINVAL, "the name holds a NUL character") from None
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0))
    try:
        info = os.fstat(fd)
        _refuse_irregular(info.st_mode)  # replaced between the look and the open
        chunks: list[bytes] = []
        left = limit + 1
        want = min(left, info.st_size + 1)
        while left > 0:
            chunk = os.read(fd, max(1, min(left, want)))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
            want = 1 << 20
    finally:
        os.close(fd)
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if whole and len(data) > limit:
        raise OSError(errno.EFBIG, f"it is larger than {limit} bytes, the most mpl reads")
    return data


# -- which language a file is written in ---------------------------------------------

# A file name that holds "modelfile" in any case (`Modelfile.txt`, `ModelFile`, `Qwen3_4B_ModelFile`,
# `llama_Modelfile`, `x.modelfile`), and a `.mprof` name: regular expressions over a path with `/`
# separators. CHECKED_NAMES, the files `mpl check` takes by their name, is the `files:` pattern of
# the pre-commit hook `mpl-check` (.pre-commit-hooks.yaml), word for word.
MODELFILE_NAME = r"(^|/)[^/]*modelfile[^/]*$"
SOURCE_NAME = r"\.mprof$"
CHECKED_NAMES = rf"(?i){SOURCE_NAME}|{MODELFILE_NAME}"
# The instructions that make a file whose name says nothing a Modelfile when one comes first
# (after blank lines and `#` comments), in any case, as Ollama's parser reads them.
MODELFILE_FIRST_WORDS = ("FROM", "PARAMETER", "TEMPLATE", "SYSTEM", "ADAPTER", "LICENSE", "MESSAGE", "REQUIRES")
_FIRST_WORD = re.compile(r"([A-Za-z]+)(?:[ \t]|$)")
_FIRST_LINE = re.compile(r"(?:\A|(?<=[\r\n]))[ \t]*([^ \t\r\n#][^\r\n]*)")  # the first line neither blank nor a comment
_SNIFF_BYTES = 8192

Language = t.Literal["mprof", "modelfile"]


def source_language(path: str | os.PathLike[str], text: str | None = None) -> Language:
    """Whether a file is a `.mprof` source or a Modelfile: the one rule of every command.

    A `.mprof` name is the profile language; any other name holding "modelfile" (any case)
    is a Modelfile; otherwise the file is a Modelfile when its first instruction line (after
    blank lines and `#` comments) starts with a Modelfile instruction (`FROM`, `PARAMETER`, …,
    any case). `text` is the file's text when the caller has it; else its start is read
    (an unreadable file is left to the caller's reader to report).

    >>> [source_language(p, "") for p in ("a.mprof", "Modelfile.txt", "x/Qwen3_4B_ModelFile", "fakenews.modelfile")]
    ['mprof', 'modelfile', 'modelfile', 'modelfile']
    >>> source_language("notes", "# base\\n\\nfrom llama3\\n"), source_language("p.txt", "profile p < >")
    ('modelfile', 'mprof')
    """
    name = os.fspath(path).replace("\\", "/")
    if re.search(SOURCE_NAME, name, re.IGNORECASE):
        return "mprof"
    if re.search(MODELFILE_NAME, name, re.IGNORECASE):
        return "modelfile"
    if text is None:
        try:
            head = read_file(path, _SNIFF_BYTES)[:_SNIFF_BYTES]
        except OSError:
            return "mprof"
        codec = "utf-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) else "utf-8-sig"
        text = head.decode(codec, errors="replace")
    return "modelfile" if first_instruction(text).upper() in MODELFILE_FIRST_WORDS else "mprof"


def first_instruction(text: str) -> str:
    """The word that starts the first line that is neither blank nor a `#` comment ("" if none).

    >>> first_instruction("\\ufeff  # c\\n\\n  FROM x"), first_instruction("profile p < >")
    ('FROM', 'profile')
    """
    match = _FIRST_LINE.search(text.removeprefix("\ufeff"))
    if match is None:
        return ""
    word = _FIRST_WORD.match(match.group(1))
    return word.group(1) if word else ""


def read_stream(stream: t.Any, limit: int = MAX_BYTES) -> t.Any:
    """Read an open file to its end, but at most `limit` + 1 bytes (characters, in text mode).

    Short reads (a raw file, a pipe) are read on until the end or the limit.
    """
    chunks = []
    left = limit + 1
    while left > 0:
        chunk = stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return chunks[0][:0].join(chunks) if chunks else b""


def read_binary(stream: t.Any, limit: int = MAX_BYTES) -> bytes:
    """`read_stream` of standard input's bytes (a text stream without `buffer`, as a test's, is encoded as UTF-8).

    A closed standard input (`mpl check - <&-`, where `sys.stdin` is None) raises `OSError`.
    """
    if stream is None:
        raise OSError(errno.EBADF, "standard input is closed")
    data = read_stream(getattr(stream, "buffer", stream), limit)
    return data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(text: t.Any, limit: int | None = None) -> str:
    """`text` on one line with no terminal controls: each unprintable character escaped, cut after `limit` characters.

    Text from outside (a server's answer, a string of a source file quoted in a
    message) could otherwise clear the screen, set the window title or forge a
    line of output. Printable text is kept as it is (non-ASCII letters too), so
    applying it twice changes nothing more.

    >>> visible("bad\\x1b[2J\\x1b]0;pwned\\x07\\nmpl: ok")
    'bad\\\\x1b[2J\\\\x1b]0;pwned\\\\x07\\\\nmpl: ok'
    >>> visible("right-to-left \\u202e, café")
    'right-to-left \\\\u202e, café'
    >>> visible("x" * 1000, 10)
    'xxxxxxxxxx… (990 more characters not shown)'
    """
    text = str(text)
    if limit is None and text.isprintable():  # the common case: nothing to change
        return text
    out: list[str] = []
    used = 0
    for i, ch in enumerate(text):
        piece = ch if ch.isprintable() else _escape(ch)
        if limit is not None and used + len(piece) > limit:
            return "".join(out) + f"… ({len(text) - i} more characters not shown)"
        out.append(piece)
        used += len(piece)
    return "".join(out)


def _escape(ch: str) -> str:
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


#: The encodings an LSP position's column can count in (UTF-16 unless the client offers another).
UTF8, UTF16, UTF32 = "utf-8", "utf-16", "utf-32"


def code_units(text: str, encoding: str = UTF16) -> int:
    """The length of `text` in code units of an LSP position encoding.

    >>> [code_units("a😀é", enc) for enc in ("utf-8", "utf-16", "utf-32")]
    [7, 4, 3]
    """
    if text.isascii() or encoding == UTF32:
        return len(text)
    if encoding == UTF8:
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def line_start(text: str, pos: int) -> int:
    """Where the line holding `pos` starts: after the last `\\n`, `\\r` or `\\r\\n` before it.

    >>> line_start("a\\r\\nbc\\rde", 8), line_start("abc", 2)
    (6, 0)
    """
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def line_end(text: str, pos: int) -> int:
    """Where the line holding `pos` ends: the offset of its line break, or the end of the text.

    >>> line_end("ab\\r\\ncd", 1), line_end("ab\\rcd", 4)
    (2, 5)
    """
    match = _LINE_BREAK.search(text, pos)
    return match.start() if match else len(text)


class Span(msgspec.Struct, frozen=True, gc=False):
    """A half-open range ``[start, end)`` of character offsets.

    A frozen `msgspec.Struct`, like the syntax nodes (see `mpl.compiler.nodes`),
    and like them untracked by the cyclic garbage collector (two ints: no cycle).

    >>> 5 in Span(3, 7), 8 in Span(3, 7)
    (True, False)
    """

    start: int
    end: int

    def __contains__(self, offset: object) -> bool:
        return isinstance(offset, int) and self.start <= offset <= self.end


class SourceFile(msgspec.Struct, frozen=True, dict=True):
    """The text of one `.mprof` file and the name to show for it.

    A frozen `msgspec.Struct` like `Span`; two files are equal when their path
    and text are. The offsets where lines start are worked out on first use and
    kept in the instance's `__dict__` (`dict=True`), outside the fields, so they
    are not compared, shown or copied: `msgspec.structs.replace` gives a file
    that works out its own.

    >>> src = SourceFile("a.mprof", "one\\r\\ntwo\\nthree")
    >>> src.line_col(src.text.index("two"))
    (2, 1)
    >>> src.line_text(3)
    'three'
    """

    path: str
    text: str

    @functools.cached_property
    def _line_starts(self) -> tuple[int, ...]:
        return (0, *(match.end() for match in _LINE_BREAK.finditer(self.text)))

    @property
    def line_count(self) -> int:
        return len(self._line_starts)

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column (in characters) of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_start(self, line: int) -> int:
        """Offset of the first character of a 1-based line."""
        return self._line_starts[line - 1]

    def line_text(self, line: int) -> str:
        """The text of a 1-based line without its line break."""
        start = self._line_starts[line - 1]
        end = self._line_starts[line] if line < len(self._line_starts) else len(self.text)
        return self.text[start:end].rstrip("\r\n")

    def offset_at(self, line: int, col: int) -> int:
        """Offset of a 1-based line and column (clamped to the text)."""
        line = max(1, min(line, len(self._line_starts)))
        return min(self._line_starts[line - 1] + max(col, 1) - 1, len(self.text))

    def lsp_position(self, offset: int, encoding: str = UTF16) -> tuple[int, int]:
        """0-based line and column in code units of `encoding` of an offset, as the LSP and SARIF count."""
        line, col = self.line_col(offset)
        start = self._line_starts[line - 1]
        return line - 1, code_units(self.text[start : start + col - 1], encoding)

    def offset_from_lsp(self, line: int, character: int, encoding: str = UTF16) -> int:
        """Offset of a 0-based line and column in code units; columns past the line's end clamp to it."""
        if line >= len(self._line_starts):
            return len(self.text)
        start = self._line_starts[line]
        text = self.line_text(line + 1)
        if encoding == UTF32 or text.isascii():
            return start + min(character, len(text))
        units = 0
        for index, ch in enumerate(text):
            if units >= character:
                return start + index
            units += code_units(ch, encoding)
        return start + len(text)

    def slice(self, span: Span) -> str:
        return self.text[span.start : span.end]
