"""Plan a build without changing anything on the server.

Consumes the source, the chosen model names and a `Server`; produces a `Plan`:
the file analysed against the server's version, every check that needs the
server (inheritance limits over registry bases, an adapter's architecture
against a base the server has, adapters on a server that refuses them; the
checker already read the GGUF headers, `mpl.compiler.adapters`), the files hashed,
what the server already has (blobs, up-to-date models), and one create request
per model. Only read-only requests are made: version, list, show and blob HEAD.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path

from mpl.deploy.display import Display
from mpl.compiler.modelinfo import NotGGUF, read_header
from mpl.targets.blobs import Blob, hash_file
from mpl.deploy.server import Server
from mpl.deploy.verify import compare, state_from_show
from mpl.catalog import Version, catalog
from mpl.compiler import Analysis
from mpl.pipeline import analyze
from mpl.compiler.adapters import architecture_mismatch, local_base_architecture
from mpl.compiler.program import Model, Program
from mpl.compiler.names import canonical_model_name, suggest
from mpl.compiler.policy import apply_policy
from mpl.targets.ollama import (
    GGUF_BASE,
    UNKNOWN,
    ModelState,
    create_request,
    expected_state,
    inheritance_limits,
    local_files,
)

#: The first release with the structured `/api/create` request (`server/create.go`, `api/types.go`).
STRUCTURED_CREATE = Version(0, 5, 5)
#: Warnings that stop a build: Ollama would store the value and ignore it.


class UsageError(Exception):
    """A problem with how `mpl build` was called (exit 2)."""


@dataclass(slots=True)
class Item:
    """One model to build: its request, the files it needs and what the server has."""

    model: Model
    base_name: str
    base: ModelState = UNKNOWN
    request: dict[str, t.Any] = field(default_factory=dict)
    blobs: list[Blob] = field(default_factory=list)
    expected: ModelState = UNKNOWN
    action: str = "create"  # "create", "recreate" (exists but differs, or --force) or "up to date"
    adapter_architecture: str | None = None  # from the adapter's GGUF header


@dataclass(slots=True)
class Plan:
    analysis: Analysis
    program: Program
    server_version: str
    checked: Version
    items: list[Item]
    present: set[str] = field(default_factory=set)  # blob digests the server has

    def item(self, name: str) -> Item | None:
        return next((i for i in self.items if i.model.name == name), None)


def find_source(file: Path | None, names: t.Sequence[str] = (), cwd: Path | None = None) -> Path:
    """`--file`, else the one `*.mprof` in the current folder that declares every named model.

    Raises:
        UsageError: No candidate, or more than one.
    """
    if file is not None:
        return file
    found = sorted((cwd or Path.cwd()).glob("*.mprof"))
    if len(found) > 1 and names:
        found = [p for p in found if _declares(p, names)] or found
    if len(found) == 1:
        return found[0]
    if not found:
        raise UsageError("no .mprof file in the current folder; pass --file PATH")
    raise UsageError(f"several .mprof files in the current folder ({', '.join(p.name for p in found)}); pass --file PATH")


def _declares(path: Path, names: t.Sequence[str]) -> bool:
    """Whether a source declares models of all these names (unreadable files do not)."""
    program = analyze(path, targets=()).program
    return program is not None and all(program.model(name) is not None for name in names)


def parse_server_version(text: str) -> Version | None:
    """The release a server reports, or None for a development build (`0.0.0`) or an odd string.

    >>> parse_server_version("0.32.15"), parse_server_version("0.0.0"), parse_server_version("0.6.1-rc0")
    (Version(major=0, minor=32, patch=15), None, Version(major=0, minor=6, patch=1))
    """
    match = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    if match is None:
        return None
    version = Version(*(int(g) for g in match.groups()))
    return None if version == Version(0, 0, 0) else version


def select(program: Program, names: t.Sequence[str], everything: bool) -> list[Model]:
    """The named models and the models of the same file they are built from, in build order."""
    if everything:
        return list(program.models)
    if not names:
        available = ", ".join(m.name for m in program.models) or "none"
        raise UsageError(f"name the model(s) to build, or pass --all (models in {program.source.path}: {available})")
    by_key = {canonical_model_name(m.name): m for m in program.models}
    wanted: set[str] = set()
    for name in names:
        model = by_key.get(canonical_model_name(name))
        if model is None:
            near = suggest(name, [m.name for m in program.models])
            hint = f"; did you mean `{near}`?" if near else f" (models: {', '.join(m.name for m in program.models) or 'none'})"
            raise UsageError(f"no model `{name}` in {program.source.path}{hint}")
        while model is not None and model.name not in wanted:
            wanted.add(model.name)
            model = program.dependency(model)
    return [m for m in program.models if m.name in wanted]


def analyze_for_build(path: Path, version: Version | None) -> Analysis:
    """The source analysed for the ollama target (`version`: `--ollama`, or None before the server answers)."""
    return analyze(path, target=version, targets=("ollama",))


def against_server(analysis: Analysis, path: Path, override: Version | None, reported: Version | None,
                   targets: t.Sequence[str] = ("ollama",)) -> Analysis:
    """The analysis against the server's version unless `--ollama` chose one (MPL601 for a differing pin).

    The syntax tree of the first analysis is checked again, not the file re-read and re-parsed;
    `targets` are the checks run (`mpl build`'s, or `options` for `mpl eval`).
    """
    if override is not None or reported is None or analysis.tree is None:
        return analysis
    result = analyze(analysis.tree, target=reported, target_origin="server", base_dir=path.resolve().parent,
                     targets=targets)
    result.io_error = analysis.io_error
    program = result.program
    assert program is not None
    pinned = program.pinned
    if pinned is not None and pinned != reported:
        result.sink.report(
            "MPL601", program.pinned_span,
            f"the file pins Ollama {pinned}, but the server runs {reported}; checking against {reported}",
            help=f"write `ollama \"{reported.major}.{reported.minor}.{reported.patch}\"`, or pass `--ollama {pinned}` to check against the pin",
            pinned=str(pinned), server=str(reported),
        )
    return result


def prepare(analysis: Analysis, models: list[Model], server: Server | None, server_version: str) -> Plan:
    """Run every check that needs the server or the GGUF files; report to the analysis' sink.

    With no server (`--dry-run --ollama X.Y`), a registry base is unknown and
    nothing is said about whether the server has it.
    """
    program = analysis.program
    assert program is not None
    reported = parse_server_version(server_version)
    sink = analysis.sink
    selected = {m.name for m in models}
    items = [Item(model=m, base_name=_base_name(program, m)) for m in models]
    states: dict[str, ModelState] = {}
    shows: dict[str, ModelState] = {}
    for item in items:
        model = item.model
        dep = program.dependency(model)
        if dep is not None:
            item.base = states.get(dep.name, UNKNOWN)
        elif model.source.kind == "path":
            item.base = _gguf_base(model, sink)
        elif server is None:
            item.base = UNKNOWN
        else:
            key = canonical_model_name(model.source.value)
            if key not in shows:
                show = server.show(model.source.value)
                shows[key] = state_from_show(show) if show is not None else UNKNOWN
            item.base = shows[key]
        inheritance_limits(model, item.base, item.base_name, sink)
        if server is not None and not item.base.exists and (model.adapter or model.unsets or model.licenses or _empty_texts(model)):
            sink.report(
                "MPL610", model.source.span,
                f"`{item.base_name}` is not on the server; Ollama will pull it during the create, "
                f"so what `{model.name}` inherits from it could not be checked",
                help=f"run `ollama pull {item.base_name}` first to have the adapter and inherited values checked before sending",
                model=model.name,
            )
        if model.adapter is not None:
            _check_adapter(program, model, item, reported, sink)
        states[model.name] = expected_state(create_request(program, model), item.base)
    apply_policy(sink, program, build=selected, allows=False)  # after the server's own checks
    return Plan(analysis, program, server_version, program.target, items)


def hash_and_compare(plan: Plan, server: Server | None, display: Display, *, force: bool) -> None:
    """Hash the files, then find which blobs the server has and which models are up to date.

    With no server, only the files are hashed: every model is planned as `create`.
    """
    blobs: dict[Path, Blob] = {}
    for item in plan.items:
        for path in local_files(item.model):
            if path not in blobs:
                transfer = display.transfer("hashing", label(plan, path), path.stat().st_size)
                blobs[path] = hash_file(path, transfer.advance)
                transfer.finish()
    states: dict[str, ModelState] = {}
    existing = server.model_names() if plan.items and server is not None else set()
    for item in plan.items:
        model = item.model
        dep = plan.program.dependency(model)
        if dep is not None:
            item.base = states.get(dep.name, item.base)
        item.request = create_request(plan.program, model, blobs)
        item.blobs = [blobs[p] for p in local_files(model)]
        item.expected = states[model.name] = expected_state(item.request, item.base)
        if server is None or canonical_model_name(model.name) not in existing:
            continue
        show = server.show(model.name)
        if show is None:
            continue
        item.action = "recreate"
        if not force and _matches(item, state_from_show(show)):
            item.action = "up to date"
    for blob in {b.digest: b for item in plan.items if item.action != "up to date" for b in item.blobs}.values():
        if server is not None and server.has_blob(blob.digest):
            plan.present.add(blob.digest)


def _matches(item: Item, got: ModelState) -> bool:
    if compare(item.expected, got):
        return False
    if "files" in item.request:
        return got.model_digest in item.request["files"].values()
    return got.parent is None or canonical_model_name(got.parent) == canonical_model_name(item.request["from"])


def _base_name(program: Program, model: Model) -> str:
    dep = program.dependency(model)
    return dep.name if dep is not None else model.source.value


def _empty_texts(model: Model) -> bool:
    return any(text is not None and text.value == "" for text in (model.system, model.template))


def _gguf_base(model: Model, sink: t.Any) -> ModelState:
    path = model.source.path
    if path is None or not path.is_file():
        return GGUF_BASE  # MPL307 already says the file is missing
    try:
        header = read_header(path)
    except (NotGGUF, OSError):
        return GGUF_BASE  # the checker reported MPL605
    return dataclasses.replace(GGUF_BASE, architecture=header.architecture)


def _check_adapter(program: Program, model: Model, item: Item, reported: Version | None, sink: t.Any) -> None:
    """What only the server can tell about an adapter; the checker read its header already (MPL605-MPL607)."""
    adapter = model.adapter
    assert adapter is not None
    spec = catalog().instructions["ADAPTER"]
    if reported is not None and spec.reported_from is not None and reported >= spec.reported_from:
        from mpl.compiler.check import adapter_report

        sink.report(
            "MPL608", adapter.span, f"the server runs Ollama {reported}: {adapter_report(reported)}",
            help="if the create fails, merge the adapter into the base offline (llama.cpp's "
                 "`llama-export-lora -m BASE.gguf --lora ADAPTER.gguf -o merged.gguf`) "
                 "and build `from \"./merged.gguf\"` without `adapter`",
            model=model.name,
        )
    if not adapter.path.is_file():
        return  # MPL307 or MPL605
    try:
        header = read_header(adapter.path)
    except (NotGGUF, OSError):
        return  # MPL605
    item.adapter_architecture = header.architecture
    base_arch = item.base.architecture
    if base_arch is not None and local_base_architecture(program, model) is None:
        # A base known from the server (the checker compared local GGUF bases).
        architecture_mismatch(header, base_arch, adapter.value, adapter.value_span, model.name, item.base_name, sink)


def label(plan: Plan, path: Path) -> str:
    """A file as progress lines show it: relative to the source's folder when inside it."""
    try:
        return str(path.relative_to(plan.program.base_dir))
    except ValueError:
        return str(path)


__all__ = ["Item", "Plan", "UsageError", "find_source", "hash_and_compare", "label", "prepare", "select"]
