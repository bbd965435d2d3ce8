"""Hover: what the catalog knows about a parameter, and what a profile, task or model resolves to.

Consumes an analysed `Document` and an offset; produces Markdown. The same
parameter text documents completion items (`parameter_markdown`).
"""

from __future__ import annotations

import json
import typing as t

from lsprotocol import types

from mpl.catalog import OptionSpec, Version, catalog
from mpl.compiler.program import Options, Program, PyValue
from mpl.lsp.document import Document

_TYPE_NAMES = {"int": "integer", "float": "number", "bool": "boolean", "string_list": "list of strings"}


def hover(doc: Document, offset: int) -> types.Hover | None:
    """The hover at an offset: a parameter name, or a profile, task or model name."""
    program = doc.analysis.program
    if program is None:
        return None
    site = doc.index.param_at(offset)
    if site is not None:
        spec = catalog().option(site.name.value)
        if spec is None:
            near = catalog().suggest(site.name.value, doc.target)
            text = f"**`{site.name.value}`**: no Ollama version has this parameter" + (f"; did you mean `{near}`?" if near else ".")
        else:
            text = parameter_markdown(spec, doc.target)
        return _hover(doc, text, site.name.span)
    occurrence = doc.index.at(offset)
    if occurrence is None:
        return None
    match occurrence.kind:
        case "profile":
            text = profile_markdown(doc, program, occurrence.name)
        case "task":
            text = task_markdown(doc, program, occurrence.name)
        case _:
            text = model_markdown(doc, program, occurrence.name)
    return _hover(doc, text, occurrence.span)


def _hover(doc: Document, text: str, span: t.Any) -> types.Hover:
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=text), range=doc.positions.range(span)
    )


# -- parameters -----------------------------------------------------------------


def versions_line(spec: OptionSpec) -> str:
    """Which Ollama releases know a parameter.

    >>> versions_line(catalog().option("mirostat"))
    'Ollama 0.0.3 to 0.6.8; removed in Ollama 0.7.0'
    """
    if spec.removed_in is None:
        return f"Ollama {spec.first} and later"
    return f"Ollama {spec.first} to {spec.last}; removed in Ollama {spec.removed_in}"


def parameter_markdown(spec: OptionSpec, target: Version) -> str:
    """A parameter's description, type, domain, default and versions, as Markdown.

    >>> text = parameter_markdown(catalog().option("mirostat"), Version(0, 12, 0))
    >>> "removed in Ollama 0.7.0" in text and "Ollama 0.12.0 does not know it" in text
    True
    """
    head = f"**`{spec.name}`** · {_TYPE_NAMES.get(spec.type.value, spec.type.value)}"
    if spec.domain is not None:
        head += f" · `{spec.domain.describe()}`"
    lines = [head, "", spec.description, ""]
    if spec.known_in(target):
        default = spec.default_in(target)
        shown = "automatic (unset)" if default is None else f"`{_show(default)}`"
        lines.append(f"- Default in Ollama {target}: {shown}")
    else:
        lines.append(f"- **Ollama {target} does not know it** (this file's target version)")
    if len(spec.defaults) > 1:
        history = ", ".join(
            f"{'auto' if c.value is None else _show(c.value)} since {c.since}" for c in spec.defaults
        )
        lines.append(f"- Default history: {history}")
    lines.append(f"- Versions: {versions_line(spec)}")
    if spec.special:
        lines.append("- Special values: " + "; ".join(f"`{k}` {v}" for k, v in spec.special.items()))
    return "\n".join(lines)


# -- profiles, tasks, models ----------------------------------------------------------


def profile_markdown(doc: Document, program: Program, name: str, task: str | None = None) -> str:
    """A profile's header, description and resolved parameters with where each was set."""
    profile = program.profiles.get(name)
    if profile is None:
        return f"**profile `{name}`**: not defined in this file"
    head = f"**profile `{name}`**"
    if profile.parent:
        head += f" extends `{profile.parent}`"
    if profile.tasks:
        head += " · for " + ", ".join(f"`{t_}`" for t_ in profile.tasks)
    lines = [head]
    if profile.description:
        lines += ["", f"_{profile.description}_"]
    lines += ["", options_table(doc, program.resolve(name, task))]
    varying = [t_ for t_ in program.tasks if program.resolve(name, t_) is not program.resolve(name)]
    if varying and task is None:
        lines += ["", "Varies for task " + ", ".join(f"`{t_}`" for t_ in varying) + " (`when` blocks)"]
    return "\n".join(lines)


def task_markdown(doc: Document, program: Program, name: str) -> str:
    """Where a task is routed, and the parameters it resolves to."""
    if name not in program.tasks:
        return f"**task `{name}`**: not declared (`tasks …`)"
    routed = program.routes.get(name)
    if routed is not None:
        line = f"**task `{name}`** → profile `{routed}`"
    elif program.default is not None:
        line = f"**task `{name}`** → default profile `{program.default}` (no profile claims it)"
    else:
        return f"**task `{name}`**: no profile claims it and there is no `default`"
    profile = routed or program.default
    assert profile is not None
    return line + "\n\n" + options_table(doc, program.resolve(profile, name))


def model_markdown(doc: Document, program: Program, name: str) -> str:
    """A model's base, adapter, profiles used and parameters."""
    model = program.model(name)
    if model is None:
        from mpl.compiler.names import canonical_model_name

        key = canonical_model_name(name)
        model = next((m for m in program.models if canonical_model_name(m.name) == key), None)
    if model is None:
        return f"**model `{name}`**"
    kinds = {"registry": "registry model", "path": "GGUF file", "model": "model in this file"}
    lines = [f"**model `{model.name}`** from `{model.source.value}` ({kinds[model.source.kind]})", ""]
    if model.adapter is not None:
        lines.append(f"- Adapter: `{model.adapter.value}`")
    for use in model.uses:
        profile, task = use.profile, use.task
        lines.append(f"- Uses profile `{profile}`" + (f" for task `{task}`" if task else ""))
    if model.system is not None:
        first = model.system.value.strip().splitlines()[0] if model.system.value.strip() else ""
        lines.append(f"- System: {_clip(first)}")
    if model.messages:
        lines.append(f"- {len(model.messages)} message(s)")
    lines += ["", options_table(doc, model.params)]
    return "\n".join(lines)


def options_table(doc: Document, options: Options) -> str:
    """Resolved parameters as a Markdown table: value and where it was set."""
    if not options:
        return "_no parameters_"
    rows = ["| parameter | value | set by |", "|---|---|---|"]
    for name in sorted(options):
        setting = options[name]
        line = doc.source.line_col(setting.span.start)[0]
        rows.append(f"| `{name}` | `{_clip(_show(setting.value), 40)}` | {setting.origin}, line {line} |")
    return "\n".join(rows)


def _show(value: PyValue | None) -> str:
    """A value as the source writes it.

    >>> _show(True), _show(0.5), _show(("a", 'b"')), _show(4096)
    ('true', '0.5', '["a", "b\\\\""]', '4096')
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _clip(text: str, width: int = 60) -> str:
    text = text.replace("|", "\\|").replace("`", "'")
    return text if len(text) <= width else text[: width - 1] + "…"
