"""`mpl build --target ollama`: plan, then upload, create and verify each model.

Consumes `BuildOptions` from the CLI; produces models on the server and an exit
code (0 built or up to date, 1 errors or server failures, 2 usage). Independent
models build concurrently; a model built `from` another of the same file waits
for it. Every failure is one `mpl: error:` line or a diagnostic at its span;
a model that was created but differs from what was compiled is said to be so.
"""

from __future__ import annotations

import json
import sys
import threading
import typing as t
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from mpl.deploy.display import Display
from mpl.deploy.plan import (
    STRUCTURED_CREATE,
    Item,
    Plan,
    UsageError,
    label,
    against_server,
    analyze_for_build,
    find_source,
    hash_and_compare,
    parse_server_version,
    prepare,
    select,
)
from mpl.deploy.server import Server, ServerError
from mpl.deploy.verify import Difference, compare, state_from_show
from mpl.diagnostics import Diagnostic
from mpl.source import Span
from mpl.targets.ollama import expected_state


@dataclass(slots=True)
class BuildOptions:
    """What `mpl build` was asked to do (see `docs/build.md`)."""

    names: list[str] = field(default_factory=list)
    source: Path | None = None  # the .mprof file named on the command line
    all: bool = False
    host: str | None = None
    ollama: str | None = None
    dry_run: bool = False
    force: bool = False
    timeout: float = 30.0
    jobs: int = 4
    # The folder whose files may be uploaded without `allow_outside`: the configuration's
    # folder, else the source's (None: the source's).
    project: Path | None = None
    allow_outside: bool = False  # --allow-outside: upload files from anywhere


@dataclass(slots=True)
class Outcome:
    """How one model's build ended."""

    name: str
    state: str  # "created", "up to date", "differs", "failed", "skipped"
    message: str = ""
    differences: list[Difference] = field(default_factory=list)


def run_build(options: BuildOptions, out: t.TextIO = sys.stdout, err: t.TextIO = sys.stderr, *, colour: bool = False) -> int:
    """Run a build and return its exit code; prints results to `out`, progress and errors to `err`."""
    build = _Build(options, out, err, colour)
    try:
        return build.run()
    except KeyboardInterrupt:
        err.write(f"\nmpl: interrupted; {build.account()}\n")
        return 130
    except UsageError as exc:
        err.write(f"mpl: error: {exc}\n")
        return 2
    except ServerError as exc:
        err.write(f"mpl: error: {exc}\n")
        return 1


class _Build:
    def __init__(self, options: BuildOptions, out: t.TextIO, err: t.TextIO, colour: bool) -> None:
        self.options = options
        self.out = out
        self.err = err
        self.colour = colour
        self._shown: set[int] = set()
        self.stages: dict[str, str] = {}  # model -> "uploading", "creating", "created", "failed"

    def account(self) -> str:
        """What exists on the server after an interrupt, as far as this build knows."""
        if not self.stages:
            return "nothing was changed on the server"
        parts = []
        for name, stage in self.stages.items():
            if stage == "uploading":
                parts.append(f"`{name}` was not created (its upload was cut; blobs already uploaded stay on the server, unused)")
            elif stage == "creating":
                parts.append(f"whether `{name}` exists on the server now is unknown (its create had been sent; run `mpl build` again)")
            elif stage == "created":
                parts.append(f"`{name}` was created")
            else:
                parts.append(f"`{name}` was not created")
        return "; ".join(parts)

    def run(self) -> int:
        from mpl.deploy.host import HostError, parse_host
        from mpl.deploy.limits import check_timeout
        from mpl.deploy.untrusted import visible
        from mpl.catalog import Version

        opts = self.options
        try:
            check_timeout(opts.timeout)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        path = find_source(opts.source, opts.names)
        try:
            url = parse_host(opts.host)
        except HostError as exc:
            raise UsageError(f"--host / OLLAMA_HOST {exc}") from None
        try:
            override = Version.parse(opts.ollama) if opts.ollama else None
        except ValueError as exc:
            raise UsageError(f"--ollama: {exc}") from None
        analysis = analyze_for_build(path, override)
        if analysis.io_error or analysis.program is None:
            self._diagnostics(analysis)
            return 2 if analysis.io_error else 1
        models = select(analysis.program, opts.names, opts.all)
        if not opts.dry_run and not opts.allow_outside:
            _refuse_outside(models, opts.project or path.parent)
        if override is not None and analysis.has_errors:  # the server's version would not change them
            self._diagnostics(analysis)
            self.err.write("mpl: error: build stopped before anything was sent; fix the errors above\n")
            return 1
        if opts.dry_run and override is not None:
            return self._plan_offline(analysis, models, url)

        server = Server(url, opts.timeout)
        try:
            server_version = server.version()
            if not opts.dry_run:
                self.err.write(f"mpl: building on {url} (Ollama {visible(server_version)})\n")
            reported = parse_server_version(server_version)
            if reported is None:
                against = f"--ollama {override}" if override is not None else "the file's `ollama` version, else the newest known"
                self.err.write(f"mpl: warning: the server reports version `{visible(server_version, 80)}` (a development build?); "
                               f"checking against {against}, and assuming it accepts everything that version does\n")
            elif reported < STRUCTURED_CREATE:
                raise ServerError(f"the server runs Ollama {reported}; `mpl build` needs {STRUCTURED_CREATE} or later "
                                  "(the structured /api/create); use `mpl compile --target modelfile` and `ollama create -f`")
            analysis = against_server(analysis, path, override, reported)
            assert analysis.program is not None
            models = [m for m in analysis.program.models if m.name in {x.name for x in models}]
            with Display(self.err) as display:
                plan = prepare(analysis, models, server, server_version)
                self._diagnostics(analysis)
                if analysis.has_errors:
                    self.err.write("mpl: error: build stopped before anything was sent; fix the errors above\n")
                    return 1
                hash_and_compare(plan, server, display, force=opts.force)
                if opts.dry_run:
                    self._dry_run(plan, url)
                    return 0
                self._announce_uploads(plan, url, display)
                outcomes = self._execute(plan, server, display)
        finally:
            server.close()
        return self._report(plan, outcomes)

    # -- output ------------------------------------------------------------------

    def _diagnostics(self, analysis: t.Any, extra: t.Sequence[Diagnostic] = ()) -> None:
        from mpl.diagnostics import Severity
        from mpl.diagnostics.render import render_text

        fresh = [d for d in [*analysis.diagnostics, *extra] if id(d) not in self._shown]
        self._shown.update(id(d) for d in fresh)
        shown = [d for d in fresh if d.severity is not Severity.INFO]  # notes are counted, as `mpl compile` does
        if shown:
            self.err.write(render_text(analysis.source, shown, colour=self.colour))
        hidden = len(fresh) - len(shown)
        if hidden:
            self.err.write(f"{analysis.source.path}: {hidden} note{'s' if hidden > 1 else ''} not shown; `mpl check` shows them\n")

    def _plan_offline(self, analysis: t.Any, models: list[t.Any], url: str) -> int:
        """`--dry-run --ollama X.Y`: the plan against that version, without contacting the server."""
        with Display(self.err) as display:
            plan = prepare(analysis, models, None, "")
            self._diagnostics(analysis)
            if analysis.has_errors:
                self.err.write("mpl: error: build stopped before anything was sent; fix the errors above\n")
                return 1
            hash_and_compare(plan, None, display, force=self.options.force)
        self._dry_run(plan, url, offline=True)
        return 0

    def _dry_run(self, plan: Plan, url: str, *, offline: bool = False) -> None:
        document: dict[str, t.Any] = {
            "host": url,
            "offline": offline,  # True: the server was not contacted, so what it has is unknown (null)
            "server_version": None if offline else plan.server_version,
            "checked_against": str(plan.checked),
            "models": [
                {
                    "model": item.model.name,
                    "action": item.action,
                    "uploads": [
                        {"path": str(b.path), "digest": b.digest, "size": b.size,
                         "on_server": None if offline else b.digest in plan.present}
                        for b in item.blobs
                    ] if item.action != "up to date" else [],
                    "request": {**item.request, "stream": True},
                }
                for item in plan.items
            ],
        }
        self.out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")

    def _announce_uploads(self, plan: Plan, url: str, display: Display) -> None:
        """Name every file that is about to leave this machine, and where it goes, before it does."""
        from mpl.deploy.display import human_size

        blobs = {b.digest: b for item in plan.items if item.action != "up to date" for b in item.blobs}
        sending = [b for digest, b in blobs.items() if digest not in plan.present]
        if not sending:
            return
        display.message(f"uploading {len(sending)} file{'s' if len(sending) > 1 else ''} to {url}:")
        for blob in sending:
            display.message(f"  {label(plan, blob.path)} ({human_size(blob.size)})")

    def _report(self, plan: Plan, outcomes: list[Outcome]) -> int:
        sink = plan.analysis.sink
        for outcome in outcomes:
            item = plan.item(outcome.name)
            assert item is not None
            for diff in outcome.differences:
                sink.report("MPL609", _span(item, diff), f"model `{outcome.name}` on the server: {diff.describe()}",
                            model=outcome.name, field=diff.field, key=diff.key)
        self._diagnostics(plan.analysis)
        failed = False
        for outcome in outcomes:
            if outcome.state in ("created", "up to date"):
                self.out.write(f"{outcome.name}: {outcome.message or outcome.state}\n")
            else:
                failed = True
                self.err.write(f"mpl: error: {outcome.message}\n")
        return 1 if failed else 0

    # -- execution ---------------------------------------------------------------

    def _execute(self, plan: Plan, server: Server, display: Display) -> list[Outcome]:
        locks = {b.digest: threading.Lock() for item in plan.items for b in item.blobs}
        futures: dict[str, Future[Outcome]] = {}
        pool = ThreadPoolExecutor(max_workers=max(1, self.options.jobs))
        try:
            for item in plan.items:
                dep = plan.program.dependency(item.model)
                waits = futures.get(dep.name) if dep is not None else None
                futures[item.model.name] = pool.submit(self._build_one, plan, item, waits, server, display, locks)
            return [futures[item.model.name].result() for item in plan.items]
        except KeyboardInterrupt:
            # Uploads and create streams stop at their next chunk or line; wait that long, not for the work.
            server.cancelled.set()
            pool.shutdown(wait=False, cancel_futures=True)
            wait(list(futures.values()), timeout=server.timeout)
            raise
        finally:
            pool.shutdown(wait=False)

    def _build_one(
        self, plan: Plan, item: Item, waits: Future[Outcome] | None, server: Server, display: Display,
        locks: dict[str, threading.Lock],
    ) -> Outcome:
        name = item.model.name
        if waits is not None:
            before = waits.result()
            if before.state not in ("created", "up to date"):
                return Outcome(name, "skipped", f"`{name}` was not built: it is built from `{before.name}`, which failed")
        if item.action == "up to date":
            return Outcome(name, "up to date", "up to date (not re-created; --force to re-create)")
        self.stages[name] = "uploading"
        try:
            for blob in item.blobs:
                with locks[blob.digest]:
                    if blob.digest in plan.present:
                        continue
                    transfer = display.transfer("uploading", blob.path.name, blob.size)
                    server.upload_blob(blob, transfer.advance)
                    transfer.finish()
                    plan.present.add(blob.digest)
        except ServerError as exc:
            if not server.cancelled.is_set():  # an interrupted upload keeps its "uploading" account
                self.stages[name] = "failed"
            return Outcome(name, "failed", f"{exc}; `{name}` was not created")
        self.stages[name] = "creating"
        try:
            server.create(item.request, lambda line: display.status(name, line))
        except ServerError as exc:
            if server.cancelled.is_set():
                return Outcome(name, "failed", str(exc))
            outcome = Outcome(name, "failed", f"{exc}{self._aftermath(server, item)}")
            self.stages[name] = "failed" if outcome.message.endswith("was not created") else "creating"
            return outcome
        self.stages[name] = "created"
        return self._verify(plan, item, server)

    def _aftermath(self, server: Server, item: Item) -> str:
        """After a failed create: does a model of that name exist now?"""
        try:
            show = server.show(item.model.name)
        except ServerError:
            return f"; whether `{item.model.name}` exists on the server now is unknown"
        if show is None:
            return f"; `{item.model.name}` was not created"
        if item.action == "create":
            return f"; the server now has a model `{item.model.name}`, which was not verified (run `mpl build` again)"
        return f"; the earlier `{item.model.name}` may have been replaced (run `mpl build` again)"

    def _verify(self, plan: Plan, item: Item, server: Server) -> Outcome:
        name = item.model.name
        try:
            show = server.show(name)
            if show is None:
                return Outcome(name, "failed", f"the server reported `success` creating `{name}`, but has no such model")
            expected = item.expected
            pulled = None
            if not item.base.exists and "from" in item.request:  # pulled during the create: now it can be read
                base = server.show(item.request["from"])
                if base is not None:
                    pulled = state_from_show(base)
                    expected = expected_state(item.request, pulled)
        except ServerError as exc:
            return Outcome(name, "failed", f"`{name}` was created, but could not be verified: {exc}")
        diffs = compare(expected, state_from_show(show))
        arch = item.adapter_architecture
        if pulled is not None and arch is not None and pulled.architecture and pulled.architecture != arch:
            diffs.append(Difference("architecture", None, pulled.architecture, arch))
        if diffs:
            return Outcome(name, "differs", f"`{name}` was created, but differs from what was compiled (see above)", diffs)
        verb = "re-created" if item.action == "recreate" else "created"
        return Outcome(name, "created", f"{verb} and verified")


def _refuse_outside(models: t.Sequence[t.Any], project: Path) -> None:
    """A build uploads only files inside the project's folder, unless `--allow-outside` says otherwise.

    A source from a cloned repository can name any path (`adapter "/home/me/private.gguf"`);
    a link inside the folder that leads out counts as outside, as the file sent is its target.

    Raises:
        UsageError: A file that would be uploaded lies outside `project`.
    """
    import os

    from mpl.targets.ollama import local_files

    root = os.path.realpath(project)
    for model in models:
        for path in local_files(model):
            real = os.path.realpath(path)
            if os.path.commonpath([root, real]) != root:
                raise UsageError(f"model `{model.name}` would upload {real}, which is outside the project's folder "
                                 f"{root}; nothing was sent. Pass --allow-outside to upload files from outside it")


def _span(item: Item, diff: Difference) -> Span:
    model = item.model
    match diff.field:
        case "parameters" if diff.key in model.params:
            return model.params[diff.key].span
        case "system" if model.system is not None:
            return model.system.span
        case "template" if model.template is not None:
            return model.template.span
        case "messages" if model.messages:
            return model.messages[0].span
        case "license" if model.licenses:
            return model.licenses[0].span
        case "adapters" | "architecture" if model.adapter is not None:
            return model.adapter.span
        case "requires" if model.requires is not None:
            return model.requires.span
    return model.name_span


__all__ = ["BuildOptions", "Outcome", "run_build"]
