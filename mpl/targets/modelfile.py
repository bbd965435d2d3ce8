"""The `modelfile` target: one `NAME.Modelfile` per model, for `ollama create -f`.

Every string is encoded for Ollama's `parser/parser.go` by `mpl.targets.modelfile_text`
(bare when that round-trips, else `\"\"\"…\"\"\"`), so Ollama's parser reads back
exactly the source string; a string no Modelfile can hold is an error at its span.
Values are placed already encoded; the template only lays out lines.
"""

from __future__ import annotations

import itertools
import os
import re
import typing as t
from pathlib import Path

from mpl.compiler.program import Model, Program
from mpl.diagnostics import Related, Sink
from mpl.source import Span
from mpl.targets.base import OutputFile, Target, typed
from mpl.targets.modelfile_text import Refusal, encode_value

_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]+")


def file_name(model: str) -> str:
    """The output file name of a model: characters unsafe in paths become `-`.

    >>> file_name("user/m:7b")
    'user-m-7b.Modelfile'
    """
    return _UNSAFE.sub("-", model).strip("-.") + ".Modelfile"


def format_number(value: t.Any) -> str:
    """A number as Go's ParseFloat(v, 32)/ParseInt read it: a float as its float32's shortest decimal.

    >>> format_number(0.1), format_number(4096), format_number(1e-05), format_number(True)
    ('0.1', '4096', '1e-05', 'true')
    >>> format_number(1.0000000596046448), format_number(3.4028234663852886e38)
    ('1.0', '3.4028235e+38')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        from mpl.catalog.values import shortest_float32

        return repr(shortest_float32(value))
    return str(value)


class ModelfileTarget(Target):
    name = "modelfile"

    def strings(self, model: Model) -> t.Iterator[tuple[str, str, Span]]:
        """(what, text, span) of every string the Modelfile will hold."""
        if model.source.kind == "path" and model.source.path is not None:
            # Written relative to the output folder; the characters are those of the full path.
            yield "FROM", str(model.source.path), model.source.span
        else:
            yield "FROM", model.source.value, model.source.span
        if model.adapter is not None:
            yield "ADAPTER", str(model.adapter.path), model.adapter.value_span
        if model.system is not None:
            yield "SYSTEM", model.system.value, model.system.value_span
        if model.template is not None:
            yield "TEMPLATE", model.template.value, model.template.value_span
        for message in model.messages:
            yield "MESSAGE", message.content, message.value_span
        for text in model.licenses:
            yield "LICENSE", text.value, text.value_span
        if model.requires is not None:
            yield "REQUIRES", model.requires.value, model.requires.value_span
        stop = model.params.get("stop")
        if stop is not None and isinstance(stop.value, tuple):
            for element, span in zip(stop.value, stop.elements or (stop.value_span,) * len(stop.value)):
                if isinstance(element, str):
                    yield "PARAMETER stop", element, span

    def check(self, program: Program, sink: Sink) -> None:
        files: dict[str, Model] = {}
        folded: dict[str, tuple[Model, str]] = {}  # by the file name's case-folded form
        for model in program.models:
            for what, text, span in self.strings(model):
                result = encode_value(text)
                if isinstance(result, Refusal):
                    sink.report(
                        "MPL503", span, f"{what} value cannot be written in a Modelfile: {result.reason}",
                        help="Ollama's Modelfile parser has no escapes and drops some characters silently",
                        instruction=what,
                    )
            for message in model.messages:
                if message.role == "tool":
                    sink.report(
                        "MPL504", message.role_span, "a Modelfile cannot hold a `tool` message",
                        help="`mpl build` sends it through the API; or remove it",
                    )
            name = file_name(model.name)
            if name in files:
                sink.report(
                    "MPL506", model.name_span,
                    f"models `{files[name].name}` and `{model.name}` would both be written to `{name}`",
                    related=[Related(files[name].name_span, "the other model")],
                )
            elif name.casefold() in folded:
                other, other_name = folded[name.casefold()]
                sink.report(
                    "MPL508", model.name_span,
                    f"model `{model.name}` would be written to `{name}`, and model `{other.name}` to `{other_name}`: "
                    f"on a case-insensitive filesystem (macOS, Windows) one file overwrites the other",
                    help="rename one of the models so that their names differ in more than case",
                    related=[Related(other.name_span, "the other model")],
                )
            files[name] = model
            folded.setdefault(name.casefold(), (model, name))

    def lines(self, program: Program, model: Model, out_dir: Path) -> list[str]:
        """The instruction lines of one model's Modelfile, values encoded."""
        lines = [f"FROM {self._from(program, model, out_dir)}"]
        if model.adapter is not None:
            lines.append(f"ADAPTER {_encode(_relative(model.adapter.path, out_dir))}")
        if model.template is not None:
            lines.append(f"TEMPLATE {_encode(model.template.value)}")
        if model.system is not None:
            lines.append(f"SYSTEM {_encode(model.system.value)}")
        for name, setting in model.params.items():
            value = typed(name, setting.value)
            if isinstance(value, list):
                lines.extend(f"PARAMETER {name} {_encode(str(item))}" for item in value)
            else:
                lines.append(f"PARAMETER {name} {format_number(value)}")
        for message in model.messages:
            lines.append(f"MESSAGE {message.role} {_encode(message.content)}")
        for text in model.licenses:
            lines.append(f"LICENSE {_encode(text.value)}")
        if model.requires is not None:
            lines.append(f"REQUIRES {_encode(model.requires.value)}")
        return lines

    def _from(self, program: Program, model: Model, out_dir: Path) -> str:
        source = model.source
        if source.kind == "path" and source.path is not None:
            return _encode(_relative(source.path, out_dir))
        return _encode(source.value)

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        from jinja2 import Environment, PackageLoader, StrictUndefined

        env = Environment(
            loader=PackageLoader("mpl.targets", "templates"),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,
        )
        template = env.get_template("modelfile.j2")
        source = Path(program.source.path).name
        return [
            OutputFile(
                file_name(model.name),
                template.render(source=_comment_safe(source), model=_comment_safe(model.name), lines=self.lines(program, model, out_dir)),
            )
            for model in program.models
        ]


def _encode(text: str) -> str:
    result = encode_value(text)
    if isinstance(result, Refusal):  # pragma: no cover - `check` reported it first
        raise ValueError(result.reason)
    return result


def _relative(path: Path, out_dir: Path) -> str:
    """A path as `ollama create -f OUT/NAME.Modelfile` will find it.

    Ollama joins the value to the Modelfile's folder as given and cleans `..`
    lexically (Go's `filepath.Abs` and `Join` do not resolve symbolic links),
    while the system resolves links when the file is opened. So a relative path
    is written only when its leading `..` steps cancel real folders of the
    output path; where a symbolic link is in the way (`-o link`, link pointing
    elsewhere), the absolute path of the file is written instead, which means
    the same from any folder. A relative path starts with `./` or `../`; the
    leading `./` keeps Ollama from reading a first `~` as a home directory.
    """
    target = os.path.realpath(path)
    physical = os.path.realpath(out_dir)
    try:
        rel = os.path.relpath(target, physical)
    except ValueError:  # another drive on Windows
        return target
    parts = rel.split(os.sep)
    ups = len(parts) - len(list(itertools.dropwhile(lambda part: part == "..", parts)))
    logical = Path(os.path.abspath(out_dir))
    for level in (logical, *logical.parents)[:ups]:
        if os.path.islink(level):  # False for a name the system cannot look up (too long): the write says why
            return target
    rel = rel.replace(os.sep, "/")
    return rel if rel.startswith("../") else f"./{rel}"


def _comment_safe(text: str) -> str:
    return re.sub(r"[\r\n]", " ", text)
