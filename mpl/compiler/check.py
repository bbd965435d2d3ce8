"""Check: types, hard domains and Ollama-version awareness over a resolved `Program`.

Every parameter statement is checked once for its name, type and domain.
Version checks depend on where a value goes: a profile's values are runtime
options (Ollama ignores names it does not know: a warning), a model's values
are Modelfile PARAMETERs (`ollama create` rejects some names, drops others).
"""

from __future__ import annotations

import functools
import re
import typing as t

from mpl.catalog import ModelfileBehaviour, OptionSpec, Version, Written, catalog, validate
from mpl.catalog.values import Problem
from mpl.compiler import nodes
from mpl.compiler.adapters import check_model_files
from mpl.compiler.names import exists
from mpl.compiler.program import Model, Program, Setting
from mpl.diagnostics import Severity, Sink



def check_syntax(file: nodes.File, target: Version, sink: Sink) -> None:
    """Name, type and domain of every parameter statement, on the syntax tree before resolution.

    A profile's values are runtime options, so their version check (MPL401)
    runs here too; a model's are Modelfile PARAMETERs, checked per model by `check`.
    """
    statements = _Statements(target, sink)
    for decl in file.decls:
        match decl:
            case nodes.ProfileDecl(block=block):
                statements.block(block, in_model=False)
            case nodes.ModelDecl(block=nodes.Block() as block):
                statements.block(block, in_model=True)


def check(program: Program, sink: Sink) -> Program:
    """Report the version and instruction problems of every model's resolved parameters and texts."""
    for model in program.models:
        _check_model(program, model, sink)
    return program


# -- statements -----------------------------------------------------------------


class _Statements:
    """The statement checks of one file against one version, each verdict found once.

    A file repeats the same few values thousands of times (`temperature 0.7`), so
    the verdict on a scalar value is kept per (name, value as written), and a
    name's catalog entry and version check per name; only the spans differ, and
    diagnostics are reported at each statement's own.
    """

    __slots__ = ("target", "sink", "specs", "verdicts")

    def __init__(self, target: Version, sink: Sink) -> None:
        self.target = target
        self.sink = sink
        self.specs: dict[str, tuple[OptionSpec, bool] | None] = {}  # name -> (spec, known to target)
        self.verdicts: dict[tuple[str, type, t.Any], tuple[Problem, ...]] = {}

    def block(self, block: nodes.Block, *, in_model: bool) -> None:
        for stmt in block.stmts:
            if isinstance(stmt, nodes.Param):
                self.param(stmt, in_model=in_model)
            elif isinstance(stmt, nodes.When):
                self.block(stmt.block, in_model=in_model)
            elif isinstance(stmt, nodes.UnsetStmt):
                for name in stmt.names:
                    known_name(name.value, name.span, self.sink)

    def param(self, stmt: nodes.Param, *, in_model: bool) -> None:
        """Name, type, machine range and hard domain of one parameter statement (and a profile's version check).

        The verdict is the catalog's `validate`, the same the API gives an override.
        """
        name = stmt.name.value
        entry: t.Any = self.specs.get(name, False)
        if entry is False:
            spec = catalog().option(name)
            entry = self.specs[name] = (spec, spec.known_in(self.target)) if spec is not None else None
        if entry is None:
            known_name(name, stmt.name.span, self.sink)
            return
        spec, known = entry
        value = stmt.value
        if isinstance(value, nodes.List):
            report_problems(value, validate(spec, _python(value)).problems, self.sink)
        else:
            key = (name, type(value), value.text if isinstance(value, nodes.Number) else value.value)
            problems = self.verdicts.get(key)
            if problems is None:
                problems = self.verdicts[key] = validate(spec, _python(value)).problems
            if problems:
                report_problems(value, problems, self.sink)
        if not known and not in_model:
            check_runtime_version(spec, self.target, stmt.name.span, self.sink)


def known_name(name: str, span: t.Any, sink: Sink) -> OptionSpec | None:
    """The catalog entry of a name, or an MPL301 with a suggestion."""
    spec = catalog().option(name)
    if spec is None:
        near = _suggestion(name)
        sink.report(
            "MPL301", span, f"unknown parameter `{name}`",
            help=f"did you mean `{near}`?" if near else "no Ollama version has a parameter of this name",
            parameter=name, suggestion=near,
        )
    return spec


@functools.lru_cache(maxsize=1024)
def _suggestion(name: str) -> str | None:
    """`catalog().suggest(name)`, once per name: a source repeating one unknown name a million times
    costs one difflib search, not a million (925k on one line took minutes)."""
    return catalog().suggest(name)


def report_problems(value: nodes.Value, problems: tuple[Problem, ...], sink: Sink) -> None:
    """The problems `validate` found with a written value, each at its span (a list's at the item)."""
    for problem in problems:
        span = value.span
        if problem.index is not None and isinstance(value, nodes.List):
            span = value.items[problem.index].span
        sink.report(
            problem.code, span, problem.message, help=problem.help,
            severity=Severity.WARNING if problem.severity == "warning" else None, **problem.data,
        )


def _python(value: nodes.Value) -> t.Any:
    """A syntax value as `validate` takes it: numbers keep their text."""
    match value:
        case nodes.Number(value=number, text=text):
            return Written(number, text)
        case nodes.String(value=text):
            return text
        case nodes.Bool(value=flag):
            return flag
        case nodes.List(items=items):
            return [_python(item) for item in items]
    return value  # pragma: no cover


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
    elif behaviour is ModelfileBehaviour.ACCEPT:
        _check_modelfile_type(model, setting, spec, target, sink, span, where)
    elif behaviour is ModelfileBehaviour.DROP_WARN:
        sink.report(
            "MPL403", span,
            f"`ollama create` of Ollama {target} drops `{setting.name}` {where}: it {version_note(spec, target)}",
            help=f"Ollama prints `warning: parameter {setting.name} is deprecated` and does not store it",
            parameter=setting.name, model=model.name,
        )


_GO_PARSE = {"int": "ParseInt", "float": "ParseFloat", "bool": "ParseBool"}


def _check_modelfile_type(
    model: Model, setting: Setting, spec: OptionSpec, target: Version, sink: Sink, span: t.Any, where: str
) -> None:
    """A PARAMETER whose type `ollama create` of the target reads differently (use_mmap in 0.1.45)."""
    kind = spec.modelfile_type_in(target)
    if kind is spec.type:
        return
    shown = "true" if setting.value is True else "false" if setting.value is False else str(setting.value)
    sink.report(
        "MPL407", span,
        f"`ollama create` of Ollama {target} reads `{setting.name}` as {kind} {where}: "
        f"`PARAMETER {setting.name} {shown}` fails with `invalid {kind} value [{shown}]`",
        help=f"remove `{setting.name}` from the model (`unset {setting.name}`) and pass it as a runtime option, "
             "or target another Ollama version",
        parameter=setting.name, model=model.name,
    )


def _name_span(setting: Setting) -> t.Any:
    return setting.name_span


# -- models -------------------------------------------------------------------------

# Compiled on first use (`re` keeps it): only a `requires` needs it.
_SEMVER = (
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
    match = re.fullmatch(_SEMVER, text)
    if match is None:
        return False
    short = match.group(2) is None or match.group(4) is None
    # semver allows prerelease/build only on a full MAJOR.MINOR.PATCH.
    return not (short and (match.group(6) or match.group(8)))


# The state-machine parser (since 0.1.34) rejects an unknown instruction; the old
# line scanner before it warned and skipped it (`parser/parser.go` at v0.1.33 and v0.1.34).
STATE_MACHINE_PARSER = Version(0, 1, 34)


# The first release with a Modelfile parser (and `ollama create`): v0.0.6.
FIRST_MODELFILE = Version(0, 0, 6)


def _missing_instruction(sink: Sink, span: t.Any, keyword: str, target: Version) -> None:
    added = catalog().instructions[keyword].first
    if target < FIRST_MODELFILE:
        sink.report(
            "MPL404", span, f"Ollama {target} has no Modelfiles and no `ollama create` (added in {FIRST_MODELFILE})",
            instruction=keyword, help=f"target Ollama {FIRST_MODELFILE} or later to create models",
        )
        return
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


def adapter_report(version: Version) -> str:
    """What is known of ADAPTER from Ollama 0.34.1: said to be refused by `ollama create`, unknown for the API."""
    spec = catalog().instructions["ADAPTER"]
    return (
        f"Ollama {version} may refuse to create this model with its adapter: from {spec.reported_from}, `ollama create` "
        "is said to refuse an ADAPTER line; whether the server's /api/create (`mpl build`) does is not known"
    )


def _check_model(program: Program, model: Model, sink: Sink) -> None:
    target = program.target
    cat = catalog()
    if not cat.instructions["FROM"].works_in(target):
        _missing_instruction(sink, model.source.span, "FROM", target)
        return
    for setting in model.params.values():
        check_modelfile_version(model, setting, target, sink)
    for keyword, text in (("TEMPLATE", model.template), ("SYSTEM", model.system)):
        if text is not None and text.value and not cat.instructions[keyword].works_in(target):
            _missing_instruction(sink, text.span, keyword, target)
    if model.licenses and not cat.instructions["LICENSE"].works_in(target):
        for text in model.licenses:
            _missing_instruction(sink, text.span, "LICENSE", target)
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
            _missing_instruction(sink, model.adapter.span, "ADAPTER", target)
        elif spec.reported_from is not None and target >= spec.reported_from:
            sink.report(
                "MPL405", model.adapter.span, adapter_report(target),
                help="build as usual; if the create refuses the adapter, merge it into the base with llama.cpp's "
                     "`llama-export-lora` and build `from` the merged GGUF",
            )
        if not exists(model.adapter.path):
            sink.report(
                "MPL307", model.adapter.value_span, f"adapter file `{model.adapter.value}` does not exist",
                help=f"looked for {model.adapter.path}{_windows_note(model.adapter.value)}; relative paths start at the .mprof file's folder",
            )
    if model.source.kind == "path" and model.source.path is not None and not exists(model.source.path):
        sink.report(
            "MPL307", model.source.span, f"model file `{model.source.value}` does not exist",
            help=f"looked for {model.source.path}{_windows_note(model.source.value)}; "
                 "Ollama would send a missing path as a model name and try to pull it",
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
    if stop is not None and stop.value == () and stop.origin.model == model.name and stop.origin.profile is None:
        sink.report(
            "MPL505", stop.span, "an empty `stop` list writes no PARAMETER line: the base model's stop strings stay",
            help="a Modelfile cannot clear inherited stop strings; list the ones you want, or remove the statement",
        )


def _windows_note(value: str) -> str:
    """Why a Windows path is missing here: on another system Ollama joins it to the file's folder too."""
    import os

    from mpl.compiler.names import windows_absolute

    return " (a Windows path: it names a file only on Windows)" if windows_absolute(value) and os.name != "nt" else ""
