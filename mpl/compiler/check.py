"""Check: types, hard domains and Ollama-version awareness over a resolved `Program`.

Every parameter statement is checked once for its name, type and domain.
Version checks depend on where a value goes: a profile's values are runtime
options (Ollama ignores names it does not know: a warning), a model's values
are Modelfile PARAMETERs (`ollama create` rejects some names, drops others).
"""

from __future__ import annotations

import math
import re
import typing as t

from mpl.catalog import ModelfileBehaviour, OptionSpec, ValueType, Version, catalog
from mpl.compiler import nodes
from mpl.compiler.adapters import check_model_files
from mpl.compiler.program import Model, Program, Setting
from mpl.diagnostics import Severity, Sink

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
FLOAT32_MAX = 3.4028234663852886e38

_TYPE_WORDS = {
    ValueType.INT: "an integer",
    ValueType.FLOAT: "a number",
    ValueType.BOOL: "`true` or `false`",
    ValueType.STRING_LIST: 'a string or a list of strings, e.g. `["a", "b"]`',
}


def check(program: Program, sink: Sink) -> Program:
    """Report type, domain and version problems of every parameter and model."""
    for decl in program.file.decls:
        match decl:
            case nodes.ProfileDecl(block=block):
                _check_block(program, block, sink, in_model=False)
            case nodes.ModelDecl(block=nodes.Block() as block):
                _check_block(program, block, sink, in_model=True)
    for model in program.models:
        _check_model(program, model, sink)
    return program


# -- statements -----------------------------------------------------------------


def _check_block(program: Program, block: nodes.Block, sink: Sink, *, in_model: bool) -> None:
    for stmt in block.stmts:
        if isinstance(stmt, nodes.Param):
            spec = check_param(stmt, sink)
            if spec is not None and not in_model:
                check_runtime_version(spec, program.target, stmt.name.span, sink)
        elif isinstance(stmt, nodes.When):
            _check_block(program, stmt.block, sink, in_model=in_model)
        elif isinstance(stmt, nodes.UnsetStmt):
            for name in stmt.names:
                known_name(name.value, name.span, sink)


def known_name(name: str, span: t.Any, sink: Sink) -> OptionSpec | None:
    """The catalog entry of a name, or an MPL301 with a suggestion."""
    spec = catalog().option(name)
    if spec is None:
        near = catalog().suggest(name)
        sink.report(
            "MPL301", span, f"unknown parameter `{name}`",
            help=f"did you mean `{near}`?" if near else "no Ollama version has a parameter of this name",
            parameter=name, suggestion=near,
        )
    return spec


def check_param(stmt: nodes.Param, sink: Sink) -> OptionSpec | None:
    """Name, type, machine range and hard domain of one parameter statement."""
    spec = known_name(stmt.name.value, stmt.name.span, sink)
    if spec is None:
        return None
    name = spec.name
    value = stmt.value
    if spec.type is ValueType.STRING_LIST:
        items = value.items if isinstance(value, nodes.List) else (value,)
        for item in items:
            if not isinstance(item, nodes.String):
                sink.report(
                    "MPL302", item.span, f"`{name}` takes strings, not {_describe(item)}",
                    help=f"write {_TYPE_WORDS[spec.type]}", parameter=name,
                )
        return spec
    if isinstance(value, nodes.List):
        sink.report(
            "MPL302", value.span, f"`{name}` takes one value, not a list",
            help=f"write {_TYPE_WORDS[spec.type]}", parameter=name,
        )
        return spec
    ok = _type_ok(spec.type, value)
    if not ok:
        hint = _TYPE_WORDS[spec.type]
        if spec.type is ValueType.INT and isinstance(value, nodes.Number) and float(value.value).is_integer():
            hint = f"`{int(value.value)}`: `{name}` is an integer"
        sink.report(
            "MPL302", value.span, f"`{name}` takes {_TYPE_WORDS[spec.type]}, not {_describe(value)}",
            help=f"write {hint}", parameter=name,
        )
        return spec
    if isinstance(value, nodes.Number):
        number = value.value
        if spec.type is ValueType.INT and not INT64_MIN <= int(number) <= INT64_MAX:
            sink.report("MPL306", value.span, f"`{value.text}` does not fit in a 64-bit integer", parameter=name)
            return spec
        if spec.type is ValueType.FLOAT and (not math.isfinite(float(number)) or abs(float(number)) > FLOAT32_MAX):
            sink.report(
                "MPL306", value.span, f"`{value.text}` is outside the range of a 32-bit float",
                help="Ollama stores float options as float32", parameter=name,
            )
            return spec
        if spec.domain is not None and not spec.domain.contains(float(number)):
            sink.report(
                "MPL303", value.span, f"`{name}` must be {spec.domain.describe()}; got `{value.text}`",
                help=_domain_help(spec), parameter=name, value=number,
            )
    return spec


def _type_ok(kind: ValueType, value: nodes.Value) -> bool:
    match kind:
        case ValueType.INT:
            return isinstance(value, nodes.Number) and isinstance(value.value, int)
        case ValueType.FLOAT:
            return isinstance(value, nodes.Number)
        case ValueType.BOOL:
            return isinstance(value, nodes.Bool)
    return False  # pragma: no cover


def _describe(value: nodes.Value) -> str:
    match value:
        case nodes.Number(text=text):
            return f"`{text}`"
        case nodes.String(value=text):
            shown = text if len(text) <= 20 else text[:17] + "…"
            return f'the string "{shown}"'
        case nodes.Bool(value=flag):
            return f"`{'true' if flag else 'false'}`"
        case nodes.List():
            return "a list"
    return "this value"  # pragma: no cover


def _domain_help(spec: OptionSpec) -> str | None:
    specials = ", ".join(f"{k} = {v}" for k, v in spec.special.items())
    return f"{spec.description} ({specials})" if specials else spec.description


# -- versions -----------------------------------------------------------------------


def version_note(spec: OptionSpec, target: Version) -> str:
    """Why a version does not know an option: added later, or removed earlier."""
    if target < spec.added_in:
        return f"was added in Ollama {spec.added_in}"
    removed = spec.removed_in
    return f"was removed in Ollama {removed}" if removed else "is not known to this version"


def check_runtime_version(spec: OptionSpec, target: Version, span: t.Any, sink: Sink) -> None:
    """A runtime option the target does not know: ignored (warning) or, before 0.1.35, rejected."""
    if spec.known_in(target):
        return
    note = version_note(spec, target)
    if catalog().runtime_ignores_unknown(target):
        sink.report(
            "MPL401", span, f"`{spec.name}` {note}; Ollama {target} ignores it",
            help="remove it, or target an Ollama version that knows it (`ollama \"X.Y\"` or `--ollama`)",
            parameter=spec.name, target=str(target),
        )
    else:
        sink.report(
            "MPL401", span, f"`{spec.name}` {note}; Ollama {target} rejects requests that carry it",
            severity=Severity.ERROR, parameter=spec.name, target=str(target),
        )


def check_modelfile_version(model: Model, setting: Setting, target: Version, sink: Sink) -> None:
    spec = catalog().option(setting.name)
    if spec is None:
        return
    behaviour = catalog().modelfile_behaviour(setting.name, target)
    where = f"in model `{model.name}`" + (f" (from profile `{setting.profile}`)" if setting.profile else "")
    span = _name_span(setting)
    if behaviour is ModelfileBehaviour.REJECT:
        sink.report(
            "MPL402", span,
            f"`ollama create` of Ollama {target} rejects `{setting.name}` {where}: it {version_note(spec, target)}",
            help=f"Ollama answers `unknown parameter '{setting.name}'`; `unset {setting.name}` in the model or target another version",
            parameter=setting.name, model=model.name,
        )
    elif behaviour is ModelfileBehaviour.DROP_WARN:
        sink.report(
            "MPL403", span,
            f"`ollama create` of Ollama {target} drops `{setting.name}` {where}: it {version_note(spec, target)}",
            help=f"Ollama prints `warning: parameter {setting.name} is deprecated` and does not store it",
            parameter=setting.name, model=model.name,
        )


def _name_span(setting: Setting) -> t.Any:
    # The statement starts with the parameter name.
    from mpl.source import Span

    return Span(setting.span.start, setting.span.start + len(setting.name))


# -- models -------------------------------------------------------------------------

_SEMVER = re.compile(
    r"v(0|[1-9]\d*)(\.(0|[1-9]\d*))?(\.(0|[1-9]\d*))?"
    r"(-{pre}(\.{pre})*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?".format(
        # a numeric prerelease identifier has no leading zero (Go semver's isBadNum)
        pre=r"(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)"
    )
)


def valid_requires(text: str) -> bool:
    """Ollama's REQUIRES check: `v` added if missing, then Go semver's IsValid.

    >>> [valid_requires(v) for v in ("0.14.0", "v0.14.0", "0.14", "1", "01.2.3", "0.14.0.1", "V0.14.0", "")]
    [True, True, True, True, False, False, False, False]
    >>> [valid_requires(v) for v in ("0.14.0-rc1", "0.14.0-0.a", "0.14.0-01", "0.14.0+01")]
    [True, True, False, True]
    """
    if not text.startswith("v"):
        text = "v" + text
    match = _SEMVER.fullmatch(text)
    if match is None:
        return False
    short = match.group(2) is None or match.group(4) is None
    # semver allows prerelease/build only on a full MAJOR.MINOR.PATCH.
    return not (short and (match.group(6) or match.group(8)))


# The state-machine parser (since 0.1.34) rejects an unknown instruction; the old
# line scanner before it warned and skipped it (ollama-facts.md §1.1).
STATE_MACHINE_PARSER = Version(0, 1, 34)


def _missing_instruction(sink: Sink, span: t.Any, keyword: str, target: Version) -> None:
    added = catalog().instructions[keyword].first
    if target < STATE_MACHINE_PARSER:
        sink.report(
            "MPL404", span, f"Ollama {target} has no {keyword} instruction (added in {added}); `ollama create` skips it",
            severity=Severity.WARNING, instruction=keyword,
            help=f"Ollama's parser before 0.1.34 warns about unknown instructions and skips them; target Ollama {added} or later to keep it",
        )
        return
    sink.report(
        "MPL404", span, f"Ollama {target} has no {keyword} instruction (added in {added})", instruction=keyword,
        help="`ollama create` fails with `command must be one of …`; remove it or target a newer Ollama",
    )


def _check_model(program: Program, model: Model, sink: Sink) -> None:
    target = program.target
    cat = catalog()
    for setting in model.params.values():
        check_modelfile_version(model, setting, target, sink)
    if model.messages and not cat.instructions["MESSAGE"].works_in(target):
        for message in model.messages:
            _missing_instruction(sink, message.span, "MESSAGE", target)
    if model.requires is not None:
        spec = cat.instructions["REQUIRES"]
        if not spec.works_in(target):
            _missing_instruction(sink, model.requires.span, "REQUIRES", target)
        if not valid_requires(model.requires.value):
            sink.report(
                "MPL305", model.requires.value_span, f"`{model.requires.value}` is not a valid semantic version",
                help="Ollama's CLI says: requires must be a valid semver (e.g. 0.14.0)",
            )
    if model.adapter is not None:
        spec = cat.instructions["ADAPTER"]
        if not spec.works_in(target):
            sink.report(
                "MPL405", model.adapter.span,
                f"creating models with an ADAPTER is reported removed in Ollama {spec.removed_in or target}"
                + (f" ({spec.reference})" if spec.reference else ""),
                help="merge the adapter into the base offline (llama.cpp's `llama-export-lora`) and build `from` the merged GGUF",
            )
        if not model.adapter.path.exists():
            sink.report(
                "MPL307", model.adapter.value_span, f"adapter file `{model.adapter.value}` does not exist",
                help=f"looked for {model.adapter.path}; relative paths start at the .mprof file's folder",
            )
    if model.source.kind == "path" and model.source.path is not None and not model.source.path.exists():
        sink.report(
            "MPL307", model.source.span, f"model file `{model.source.value}` does not exist",
            help=f"looked for {model.source.path}; Ollama would send a missing path as a model name and try to pull it",
        )
    check_model_files(program, model, sink)  # GGUF headers: MPL605-MPL607
    for text in (model.system, model.template):
        if text is not None and text.value == "":
            keyword = "system" if text is model.system else "template"
            sink.report(
                "MPL505", text.span, f"an empty `{keyword}` keeps the base model's {keyword}",
                help="Ollama treats an empty value as absent; remove the statement or write the text",
            )
    stop = model.params.get("stop")
    if stop is not None and stop.value == () and stop.origin == f"model {model.name}":
        sink.report(
            "MPL505", stop.span, "an empty `stop` list writes no PARAMETER line: the base model's stop strings stay",
            help="a Modelfile cannot clear inherited stop strings; list the ones you want, or remove the statement",
        )
