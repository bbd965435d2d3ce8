"""The `ollama` target: a model as a structured `/api/create` request (`CreateRequest` in Ollama's `api/types.go`).

Consumes a checked `Program`; produces one create request per model, the state a
created model is expected to have on the server (`ModelState`, its base's values
merged with its own as the server merges them), and diagnostics for what
`/api/create` cannot express over a `from` base (§7 item 8): removing an
inherited parameter, clearing an inherited system prompt or template, replacing
licenses, a second adapter. `mpl build` (`mpl.deploy`) sends the requests.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from mpl.compiler.adapters import sent_files
from mpl.compiler.program import Model, Program
from mpl.diagnostics import Sink
from mpl.targets.base import OutputFile, Target, dump_json, typed

if t.TYPE_CHECKING:
    from mpl.targets.blobs import Blob

DEFAULT_TEMPLATE = "{{ .Prompt }}"  # what `/api/show` reports for a model without a template


@dataclass(frozen=True, slots=True)
class ModelState:
    """What a model on the server holds, or is expected to hold. None means unknown.

    `system`, `template` and `license` use "" for "none"; `license` is the texts
    joined with a newline, as `/api/show` returns them (§4.5). When `complete` is
    False (a base the server did not describe), `parameters`, `license` and
    `adapters` hold only what is known to be there: the rest is unknown.
    """

    exists: bool = True
    complete: bool = True
    architecture: str | None = None
    parameters: dict[str, t.Any] = field(default_factory=dict)  # Ollama's JSON types
    system: str | None = None
    template: str | None = None
    license: str = ""
    messages: tuple[tuple[str, str], ...] | None = None  # (role, content)
    adapters: tuple[str, ...] = ()  # digests, in manifest order
    requires: str | None = None
    parent: str | None = None  # `details.parent_model` (show only)
    model_digest: str | None = None  # the model layer's digest (show only)


#: A registry base the server does not have (or that was not asked about).
UNKNOWN = ModelState(exists=False, complete=False)
#: A GGUF file as a base: no parameters, texts, licenses or adapters of its own.
GGUF_BASE = ModelState(system="", messages=())


def create_request(program: Program, model: Model, blobs: t.Mapping[Path, Blob] | None = None) -> dict[str, t.Any]:
    """The `/api/create` body for a model (without `stream`).

    `blobs` maps local file paths to their digests; without it, digests are
    placeholders (for checks that only need the request's shape).
    """
    def digest(path: Path) -> tuple[str, str]:
        if blobs is None:
            return path.name, f"sha256:<{path.name}>"
        blob = blobs[path]
        return blob.key, blob.digest

    request: dict[str, t.Any] = {"model": model.name}
    source = model.source
    if source.kind == "path" and source.path is not None:
        request["files"] = dict([digest(source.path)])
    elif source.kind == "model":
        dep = program.dependency(model)
        request["from"] = dep.name if dep is not None else source.value
    else:
        request["from"] = source.value
    if model.adapter is not None:  # a folder: the files Ollama's CLI takes from it
        request["adapters"] = dict(digest(path) for path in sent_files(model.adapter.path))
    if model.template is not None and model.template.value:
        request["template"] = model.template.value
    if model.system is not None and model.system.value:
        request["system"] = model.system.value
    if model.licenses:
        request["license"] = [text.value for text in model.licenses]
    parameters = {name: _typed(name, setting.value) for name, setting in model.params.items()}
    if parameters:
        request["parameters"] = parameters
    if model.messages:
        request["messages"] = [{"role": m.role, "content": m.content} for m in model.messages]
    if model.requires is not None:
        request["requires"] = model.requires.value.removeprefix("v")  # as the Go CLI sends it (§1.11)
    return request


def _typed(name: str, value: t.Any) -> t.Any:
    """`typed`, but a value of the wrong type (already an MPL302) is passed through."""
    try:
        return typed(name, value)
    except (TypeError, ValueError):
        return value


def expected_state(request: t.Mapping[str, t.Any], base: ModelState) -> ModelState:
    """The state the server gives a model created by `request` over `base` (§4.1 inheritance)."""
    own_license = list(request.get("license") or [])
    messages = tuple((m["role"], m["content"]) for m in request.get("messages") or ())
    return ModelState(
        exists=True,
        complete=base.complete,
        architecture=base.architecture,
        parameters={**base.parameters, **(request.get("parameters") or {})},
        system=request.get("system") or base.system,
        template=request.get("template") or base.template,
        license="\n".join(([base.license] if base.license else []) + own_license),
        messages=messages or base.messages,
        adapters=base.adapters + tuple((request.get("adapters") or {}).values()),
        requires=request.get("requires") or base.requires,
    )


def inheritance_limits(model: Model, base: ModelState, base_name: str, sink: Sink) -> None:
    """Report what the model says that `/api/create` cannot express over this base.

    Only facts known about the base are used: an unknown base reports nothing.
    """
    for name, span in model.unsets:
        if name in base.parameters and name not in model.params:
            sink.report(
                "MPL602", span,
                f"`unset {name}` cannot remove `{name}` from model `{model.name}`: its base `{base_name}` sets it",
                help="Ollama merges the base's parameters into the new model and has no way to delete one; set the value you want instead",
                parameter=name, model=model.name,
            )
    for keyword, text, inherited in (
        ("system", model.system, base.system),
        ("template", model.template, base.template if base.template != DEFAULT_TEMPLATE else ""),
    ):
        if text is not None and text.value == "" and inherited:
            sink.report(
                "MPL602", text.span,
                f"an empty `{keyword}` cannot clear the {keyword} that `{model.name}` inherits from `{base_name}`",
                help=f"Ollama treats an empty {keyword} as absent and keeps the base's; write the text you want",
                model=model.name,
            )
    if model.licenses and base.license:
        count = base.license.count("\n") + 1
        sink.report(
            "MPL603", model.licenses[0].span,
            f"the licenses of `{model.name}` are added to the {count} license text(s) of its base `{base_name}`",
            help="Ollama appends licenses over a `from` base; they cannot be replaced",
            model=model.name,
        )
    if model.adapter is not None and base.adapters:
        sink.report(
            "MPL604", model.adapter.span,
            f"`{model.name}` adds an adapter on top of `{base_name}`, which already has one",
            help="Ollama keeps the base's adapter and appends this one; build from the base's own base, or merge the adapters offline",
            model=model.name,
        )


def static_states(program: Program, sink: Sink | None = None) -> dict[str, ModelState]:
    """Expected states from the file alone (registry bases unknown), reporting limits to `sink`."""
    states: dict[str, ModelState] = {}
    for model in program.models:
        dep = program.dependency(model)
        if dep is not None:
            base = states.get(dep.name, UNKNOWN)
        elif model.source.kind == "path":
            base = GGUF_BASE
        else:
            base = UNKNOWN
        if sink is not None:
            inheritance_limits(model, base, dep.name if dep is not None else model.source.value, sink)
        states[model.name] = expected_state(create_request(program, model), base)
    return states


class OllamaTarget(Target):
    """Create requests for `/api/create`; `mpl build --target ollama` sends them."""

    name = "ollama"

    def check(self, program: Program, sink: Sink) -> None:
        static_states(program, sink)

    def emit(self, program: Program, out_dir: Path) -> list[OutputFile]:
        from mpl.targets.blobs import hash_file

        blobs = {}
        for model in program.models:
            for path in local_files(model):
                if path not in blobs:
                    blobs[path] = hash_file(path)
        return [
            OutputFile(
                f"{model.name.replace('/', '-').replace(':', '-')}.create.json",
                dump_json(create_request(program, model, blobs)),
            )
            for model in program.models
        ]


def local_files(model: Model) -> list[Path]:
    """The local files a model's request refers to: its GGUF base and its adapter."""
    paths = []
    if model.source.kind == "path" and model.source.path is not None:
        paths.append(model.source.path)
    if model.adapter is not None:
        paths.extend(sent_files(model.adapter.path))
    return paths
