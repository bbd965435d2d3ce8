"""Arms (`--arm NAME=MODEL[@PROFILE]`) and the options each sends for each case.

An arm with `@PROFILE` sends that profile resolved for the case's task; one without
sends the profile the case's task is routed to, as `ProfileSet.for_task` and `mpl show
task:T` route it (the `default` for a case without a task), resolved for that task. Repeat `r` of a run sends the profile's `seed` + r, or `--seed` + r
where the profile sets none (a negative seed, Ollama's "random", counts as none), so
each run can be repeated and repeats differ. Problems are diagnostics: MPL044 for an
`--arm` that cannot be read, MPL043 and MPL045 for a case the profiles cannot serve.
"""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass

from mpl.diagnostics import Sink
from mpl.eval.cases import Case
from mpl.source import SourceFile

if t.TYPE_CHECKING:
    from mpl.compiler.program import Program

_ARM = re.compile(r"(?P<name>[^=@\s]+)=(?P<model>[^@\s]+)(?:@(?P<profile>[^@\s]+))?")


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm: a name for reports, a model on the server, and a profile (None: routed by task)."""

    name: str
    model: str
    profile: str | None = None

    def as_dict(self) -> dict[str, t.Any]:
        return {"name": self.name, "model": self.model, "profile": self.profile}


def parse_arms(texts: t.Sequence[str], sink: Sink) -> list[Arm]:
    """The `--arm` values as arms; each that cannot be read (or repeats a name) is MPL044 in `sink`.

    >>> sink = Sink(SourceFile("--arm", ""))
    >>> parse_arms(["base=qwen2.5-coder:7b", "tuned=meton@precise"], sink)
    [Arm(name='base', model='qwen2.5-coder:7b', profile=None), Arm(name='tuned', model='meton', profile='precise')]
    >>> parse_arms(["x"], sink), [d.code for d in sink.diagnostics]
    ([], ['MPL044'])
    """
    arms: list[Arm] = []
    for text in texts:
        match = _ARM.fullmatch(text.strip())
        if match is None:
            sink.report("MPL044", None, f"`--arm {text}` is not NAME=MODEL or NAME=MODEL@PROFILE",
                        help="e.g. `--arm base=qwen2.5-coder:7b --arm tuned=meton@precise`")
            continue
        arm = Arm(match["name"], match["model"], match["profile"])
        if any(a.name == arm.name for a in arms):
            sink.report("MPL044", None, f"two arms are named `{arm.name}`", help="give every arm its own name")
            continue
        arms.append(arm)
    if len(texts) == 0:
        sink.report("MPL044", None, "no arm given", help="name at least one: `--arm NAME=MODEL[@PROFILE]`")
    return arms


@dataclass(frozen=True, slots=True)
class Plan:
    """The options an arm sends for a case, before the seed of each repeat."""

    options: dict[str, t.Any]
    seed: int  # repeat r sends seed + r

    def for_repeat(self, repeat: int) -> dict[str, t.Any]:
        return {**self.options, "seed": self.seed + repeat}


def plan_options(arms: t.Sequence[Arm], cases: t.Sequence[Case], program: Program | None, seed: int,
                 cases_sink: Sink, arms_sink: Sink) -> dict[tuple[str, str], Plan]:
    """The options of every (arm, case), by (arm name, case id); problems go to the sinks.

    A case's task that the source does not declare is MPL043 at the case; a case that
    an arm without a profile cannot route (no task route, no `default`) is MPL045 (a source
    without profiles routes nothing: such arms send the seed alone, as with no source); an
    arm's unknown profile is MPL207, as `ProfileSet.options` says it.
    """
    from mpl.compiler.names import did_you_mean
    from mpl.targets.base import typed_options

    plans: dict[tuple[str, str], Plan] = {}
    if program is not None:
        _known_tasks(cases, program, cases_sink)
    for arm in arms:
        if program is None or (arm.profile is None and not program.profiles):
            # no profile source, or one of models only (their parameters are on the server): the seed alone
            for case in cases:
                plans[arm.name, case.id] = Plan({}, seed)
            continue
        if arm.profile is not None and arm.profile not in program.profiles:
            arms_sink.report("MPL207", None, f"arm `{arm.name}`: profile `{arm.profile}` does not exist",
                             help=did_you_mean(arm.profile, program.profiles))
            continue
        for case in cases:
            if case.task is not None and case.task not in program.tasks:
                continue  # MPL043 already
            chosen = arm.profile or (program.profile_for_task(case.task) if case.task is not None else program.default)
            if chosen is None:
                what = f"its task `{case.task}` is routed to no profile" if case.task else "it has no task"
                cases_sink.report("MPL045", case.task_span or case.span,
                                  f"arm `{arm.name}` names no profile for case `{case.id}`: {what}, and the source has no `default`",
                                  help=f"name one on the arm (`--arm {arm.name}={arm.model}@PROFILE`), or add `default PROFILE` to the source")
                continue
            options = typed_options(program.resolve(chosen, case.task))
            own = options.pop("seed", None)
            base = own if isinstance(own, int) and own >= 0 else seed
            plans[arm.name, case.id] = Plan(options, base)
    return plans


def _known_tasks(cases: t.Sequence[Case], program: Program, sink: Sink) -> None:
    from mpl.compiler.names import did_you_mean

    for case in cases:
        if case.task is not None and case.task not in program.tasks:
            declared = ", ".join(f"`{name}`" for name in program.tasks) or "none"
            sink.report("MPL043", case.task_span or case.span,
                        f"case `{case.id}`: task `{case.task}` is not declared in {program.source.path} (its tasks: {declared})",
                        help=did_you_mean(case.task, program.tasks) or "declare it there (`tasks ...`), or correct the case")


def arms_source() -> SourceFile:
    """The source diagnostics about `--arm` values name (they have no file)."""
    return SourceFile("--arm", "")
