"""The semantic lint rules (numbered in docs/diagnostics.md), as functions over one resolved option set.

Each rule reads a `Subject` (a profile resolved for a task, or a model's baked
parameters, with only the options the target Ollama version knows) and yields
`Finding`s: a code, the parameter whose statement makes the finding true, a
message and a help line. Findings with `inert` also tell `mpl show` that the
value has no effect; findings without a code are notes for `mpl show` only.
`mpl.compiler.lint` turns findings into diagnostics at the right spans.

Rule 10 (and the error halves of 4, 5, 6, 8 and 13) are
the catalog's hard domains, reported once as MPL303 by `check`; see
docs/diagnostics.md for the mapping. Rule 23 (default drift) needs the whole
profile tree and lives in `mpl.compiler.lint`.
"""

from __future__ import annotations

import math
import re
import typing as t

import msgspec

from mpl.catalog import Version

if t.TYPE_CHECKING:
    from mpl.compiler.modelinfo import ModelInfo
    from mpl.compiler.program import Options

V0_4 = Version(0, 4, 0)
V0_5_5 = Version(0, 5, 5)
V0_6 = Version(0, 6, 0)
V0_17_5 = Version(0, 17, 5)
V0_18 = Version(0, 18, 0)
V0_24 = Version(0, 24, 0)
V0_30 = Version(0, 30, 0)

FILTERS = ("top_k", "top_p", "min_p")
PENALTIES = ("repeat_penalty", "presence_penalty", "frequency_penalty")
NEUTRAL = {"repeat_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0}

# `OllamaEngineRequired()` in Ollama's fs/ggml/ggml.go: only gemma3 at
# v0.6.0; the full list as read at v0.24.0. Releases in between are treated as
# v0.6.0's list (the list only grew), so rule 7 errs on the quiet side there.
OLLAMA_ENGINE_V0_6 = frozenset({"gemma3"})
OLLAMA_ENGINE_V0_24 = frozenset({
    "bert", "deepseek2", "deepseekocr", "gemma3", "gemma3n", "gemma4", "gpt-oss", "laguna", "llama4",
    "mistral3", "mllama", "nemotron_h", "nemotron_h_moe", "nemotron_h_omni", "nomic-bert", "olmo3",
    "qwen25vl", "qwen3", "qwen3moe", "qwen35", "qwen35moe", "qwen3next", "qwen3vl", "qwen3vlmoe",
    "glm4moelite", "glmocr", "lfm2", "lfm2moe",
})

# Words in a trailing comment that say the author expects top_p to filter (rule 4).
_FILTER_WORDS = re.compile(r"filter|nucleus|truncat|restrict|narrow|limit|cut", re.I)


class Subject(msgspec.Struct, frozen=True):
    """One option set to lint, and what is known around it."""

    opts: Options
    target: Version
    kind: t.Literal["profile", "model"]
    info: ModelInfo | None = None
    comment_after: t.Callable[[str], str] = lambda name: ""  # trailing comment of a setting's line

    def num(self, name: str) -> float | None:
        """The numeric value of a set option (None when unset, not a number, or not finite)."""
        setting = self.opts.get(name)
        if setting is None or isinstance(setting.value, bool) or not isinstance(setting.value, (int, float)):
            return None
        if isinstance(setting.value, float) and not math.isfinite(setting.value):
            return None  # out of range, already reported by the checker (MPL306)
        return setting.value

    def shown(self, name: str) -> str:
        """`name value` as the source would write it."""
        value = self.num(name)
        if isinstance(value, int) and value.bit_length() > 13_000:  # str() refuses more than 4300 digits
            return f"`{name}` (a number of about {int(value.bit_length() * 0.30103)} digits)"
        text = repr(value) if isinstance(value, float) else str(value)
        return f"`{name} {text}`"

    def active_penalties(self) -> list[str]:
        """The penalties set to a non-neutral value."""
        return [p for p in PENALTIES if (v := self.num(p)) is not None and v != NEUTRAL[p]]


class Finding(msgspec.Struct, frozen=True):
    """What a rule found: `code` at `param`'s statement (or the declaration when None)."""

    code: str | None
    param: str | None
    message: str
    help: str | None = None
    related: tuple[str, ...] = ()
    inert: str | None = None
    element: int | None = None  # for list parameters: the element the finding is about


Rule = t.Callable[[Subject], t.Iterator[Finding]]


def _greedy(s: Subject) -> bool:
    temp = s.num("temperature")
    return temp is not None and temp <= 0


def greedy_ignores_filters(s: Subject) -> t.Iterator[Finding]:
    """Rule 1: at temperature <= 0 top_k, top_p and min_p keep the top token: no effect."""
    if not _greedy(s):
        return
    for name in FILTERS:
        value = s.num(name)
        active = value is not None and (value > 0 if name != "top_p" else value < 1)
        if active:
            yield Finding(
                "MPL701", name, f"{s.shown('temperature')} decodes greedily; {s.shown(name)} has no effect",
                help=f"remove `{name}`, or raise `temperature` above 0 to sample",
                related=("temperature",), inert="moot at temperature 0 (greedy decoding)",
            )


def greedy_ignores_seed(s: Subject) -> t.Iterator[Finding]:
    """Rule 2: the seed does not matter when decoding is greedy."""
    seed = s.num("seed")
    if seed is None or seed < 0:
        return
    cause = "temperature" if _greedy(s) else "top_k" if s.num("top_k") == 1 else None
    if cause:
        yield Finding(
            "MPL702", "seed", f"{s.shown('seed')} has no effect: {s.shown(cause)} decodes greedily",
            help="remove `seed`, or sample (temperature above 0, top_k above 1) if you want it to matter",
            related=(cause,), inert="no effect on greedy decoding",
        )


def top_p_edges(s: Subject) -> t.Iterator[Finding]:
    """Rule 4: top_p 0 means different things per engine; top_p 1 filters nothing."""
    value = s.num("top_p")
    if value == 0:
        yield Finding(
            "MPL703", "top_p", "`top_p 0` is greedy on llama.cpp but disables top_p on the MLX engine",
            help="write `temperature 0` for greedy decoding, or a top_p such as 0.9",
        )
    elif value == 1 and _FILTER_WORDS.search(s.comment_after("top_p")):
        yield Finding(
            "MPL704", "top_p", "`top_p 1` disables nucleus sampling; it filters nothing",
            help="use a value below 1 (0.8-0.95) to filter, or drop the comment", inert="off (top_p 1)",
        )


def min_p_high(s: Subject) -> t.Iterator[Finding]:
    """Rule 5 (warning half): min_p >= 0.5 leaves almost only the top token."""
    value = s.num("min_p")
    if value is not None and 0.5 <= value <= 1:
        yield Finding(
            "MPL705", "min_p", f"{s.shown('min_p')} leaves almost only the top token",
            help="0.05-0.1 is the usual range; write temperature 0 for greedy decoding",
        )


def typical_p_at_greedy(s: Subject) -> t.Iterator[Finding]:
    """Rule 6 (warning half): typical_p still filters at temperature 0."""
    value = s.num("typical_p")
    if value is not None and value < 1 and _greedy(s):
        yield Finding(
            "MPL706", "typical_p",
            f"{s.shown('typical_p')} still filters at {s.shown('temperature')} and can change the greedy choice",
            help="remove `typical_p` (or set it to 1) for plain greedy decoding", related=("temperature",),
        )


def engine_ignores_option(s: Subject) -> t.Iterator[Finding]:
    """Rule 7: Ollama's Go engine (v0.6-v0.29) implements only temperature, top_k, top_p, min_p, seed."""
    arch = s.info.architecture if s.info else None
    if s.kind != "model" or arch is None or not V0_6 <= s.target < V0_30:
        return
    engine = OLLAMA_ENGINE_V0_24 if s.target >= V0_24 else OLLAMA_ENGINE_V0_6
    if arch not in engine:
        return
    ignored = [] if V0_17_5 <= s.target < V0_18 else s.active_penalties()
    if "repeat_last_n" in s.opts:
        ignored.append("repeat_last_n")
    if (typical := s.num("typical_p")) is not None and typical < 1:
        ignored.append("typical_p")
    for name in ignored:
        yield Finding(
            "MPL707", name,
            f"ignored: Ollama {s.target}'s Go engine runs `{arch}` models and does not implement `{name}`",
            help="remove it from this model, or target Ollama 0.30 or later (llama-server honours it)",
            inert=f"ignored by Ollama's Go engine ({arch})",
        )


def repeat_penalty_range(s: Subject) -> t.Iterator[Finding]:
    """Rule 8 (warning halves): below 1 rewards repetition; above 1.5 breaks words."""
    value = s.num("repeat_penalty")
    if value is None:
        return
    if 0 < value < 1:
        yield Finding(
            "MPL708", "repeat_penalty", f"{s.shown('repeat_penalty')} is below 1: it rewards repetition",
            help="1 turns the penalty off; 1.05-1.1 discourages repetition",
        )
    elif value > 1.5:
        yield Finding(
            "MPL709", "repeat_penalty", f"{s.shown('repeat_penalty')} is a very strong penalty; expect broken words and grammar",
            help="stay between 1.0 and 1.2; above 1.2 already harms grammar",
        )


def penalty_window(s: Subject) -> t.Iterator[Finding]:
    """Rules 9 and 11: a window of 0 (and -1 on v0.4-v0.29) turns the penalties off."""
    window = s.num("repeat_last_n")
    if window == 0:
        active = s.active_penalties()
        if active:
            yield Finding(
                "MPL710", "repeat_last_n", "`repeat_last_n 0` disables " + _names(active),
                help="remove `repeat_last_n` (default 64), or remove the penalties", related=tuple(active),
            )
            for name in active:
                yield Finding(None, name, "", inert="off: `repeat_last_n 0` disables the penalties")
    elif window == -1 and V0_4 <= s.target < V0_30:
        active = s.active_penalties()
        default = _default_penalty(s)
        if active or default:
            what = _names(active) if active else f"the default `repeat_penalty {default}`"
            yield Finding(
                "MPL711", "repeat_last_n",
                f"on Ollama {s.target} `repeat_last_n -1` disables {what} instead of meaning num_ctx",
                help="give an explicit window such as `repeat_last_n 256` (or the num_ctx value)",
                related=tuple(active),
            )
            for name in active:
                yield Finding(None, name, "", inert=f"off: `repeat_last_n -1` disables penalties on Ollama {s.target}")


def _default_penalty(s: Subject) -> float | None:
    if "repeat_penalty" in s.opts:
        return None
    from mpl.catalog import catalog

    value = catalog().options["repeat_penalty"].default_in(s.target)
    return value if isinstance(value, float) and value != 1.0 else None


def penalty_with_drafting(s: Subject) -> t.Iterator[Finding]:
    """Rule 12: the draft model does not apply penalties, so fewer drafts are accepted."""
    draft = s.num("draft_num_predict")
    active = s.active_penalties()
    if draft is not None and draft > 0 and active:
        yield Finding(
            "MPL712", "draft_num_predict", f"{_names(active)} lower speculative-decoding acceptance; the draft does not apply them",
            help="leave the penalties at their neutral values when drafting (repeat_penalty 1)", related=tuple(active),
        )


def mirostat_overrides(s: Subject) -> t.Iterator[Finding]:
    """Rule 13: mirostat 1/2 (<= v0.6.8) replaces the samplers; at temperature 0 it does nothing."""
    mode = s.num("mirostat")
    if mode not in (1, 2):
        return
    if _greedy(s):
        yield Finding(
            "MPL714", "mirostat", f"`mirostat {int(mode)}` does nothing at {s.shown('temperature')}",
            help="remove `mirostat`, or raise `temperature` above 0", related=("temperature",),
            inert="no effect at temperature 0",
        )
    replaced = ["top_k", "top_p", "min_p", "typical_p"]
    if s.target >= V0_5_5:
        replaced += list(PENALTIES)
    for name in replaced:
        if name in s.opts:
            yield Finding(
                "MPL713", name, f"`mirostat {int(mode)}` replaces `{name}` on Ollama {s.target}; it has no effect",
                help=f"remove `{name}`, or turn mirostat off (`mirostat 0`)", related=("mirostat",),
                inert=f"overridden by `mirostat {int(mode)}`",
            )
    if s.target >= V0_5_5 and "repeat_last_n" in s.opts:
        yield Finding(None, "repeat_last_n", "", inert=f"overridden by `mirostat {int(mode)}` (penalties are skipped)")


def num_predict_range(s: Subject) -> t.Iterator[Finding]:
    """Rule 14: 0 is not "default"; below -1 is -1; above 10 x num_ctx is capped (v0.30+)."""
    value = s.num("num_predict")
    if value is None:
        return
    ctx = s.num("num_ctx")
    if value == 0:
        yield Finding(
            "MPL715", "num_predict",
            "`num_predict 0` is not 'use the default': it is unlimited on /api/generate and one token on the chat path",
            help="write -1 for unlimited, or a positive count",
        )
    elif value < -1:
        where = "capped at 10 × num_ctx" if s.target >= V0_30 else "unlimited"
        yield Finding(
            "MPL716", "num_predict",
            f"Ollama treats every negative num_predict as -1 ({where}); `-2` 'fill the context' is a llama-cli notion",
            help="write -1",
        )
    elif s.target >= V0_30 and ctx is not None and ctx > 0 and value > 10 * ctx:
        yield Finding(
            "MPL717", "num_predict", f"{s.shown('num_predict')} is capped at 10 × num_ctx ({int(10 * ctx)}) by Ollama {s.target}",
            help="lower it, or raise num_ctx", related=("num_ctx",),
        )


def num_ctx_range(s: Subject) -> t.Iterator[Finding]:
    """Rule 15: below 4 is raised to 4; above the trained length lowered; vision needs 2048."""
    value = s.num("num_ctx")
    if value is None:
        return
    if value < 4:
        yield Finding(
            "MPL718", "num_ctx", f"{s.shown('num_ctx')} is raised to 4; 0 does not mean automatic",
            help="leave num_ctx unset for the automatic size, or give a real window such as 8192",
        )
        return
    info = s.info
    if info is not None and info.context_length and value > info.context_length:
        yield Finding(
            "MPL719", "num_ctx", f"{s.shown('num_ctx')} is lowered to {info.context_length}, the model's trained length",
            help=f"set num_ctx to {info.context_length} or less", inert=f"lowered to {info.context_length} by the server",
        )
    if info is not None and info.vision and value < 2048:
        yield Finding(
            "MPL720", "num_ctx", f"{s.shown('num_ctx')} is raised to 2048 for a vision model",
            help="set num_ctx to 2048 or more",
        )


def num_keep_range(s: Subject) -> t.Iterator[Finding]:
    """Rule 16: negative means "whole prompt"; at or above num_ctx it is clamped."""
    value = s.num("num_keep")
    if value is None:
        return
    ctx = s.num("num_ctx")
    if value < -1:
        yield Finding("MPL721", "num_keep", "any negative num_keep means 'keep the whole prompt'", help="write -1")
    elif ctx is not None and ctx >= 4 and value >= ctx:
        yield Finding(
            "MPL721", "num_keep", f"{s.shown('num_keep')} is clamped to num_ctx - 1 ({int(ctx) - 1})",
            help="keep num_keep well below num_ctx", related=("num_ctx",),
        )


def num_batch_effects(s: Subject) -> t.Iterator[Finding]:
    """Rule 17: an explicit num_batch turns automatic sizing off (v0.30+); <= 0 and > num_ctx do nothing."""
    value = s.num("num_batch")
    if value is None:
        return
    ctx = s.num("num_ctx")
    if value <= 0:
        if s.target >= V0_30:
            yield Finding(
                "MPL723", "num_batch", f"{s.shown('num_batch')} is ignored; llama.cpp's defaults (2048/512) apply",
                help="leave num_batch unset for Ollama's automatic size", inert="ignored (<= 0)",
            )
        return
    if s.target >= V0_30:
        yield Finding(
            "MPL722", "num_batch", "setting num_batch turns off Ollama's automatic batch size (512-2048 by context and VRAM)",
            help="leave num_batch unset unless you measured a better value",
        )
    if ctx is not None and ctx >= 4 and value > ctx:
        yield Finding(
            "MPL723", "num_batch", f"{s.shown('num_batch')} is capped at num_ctx ({int(ctx)})",
            help="a batch larger than the context has no effect", related=("num_ctx",),
        )


def main_gpu_effects(s: Subject) -> t.Iterator[Finding]:
    """Rule 18: since v0.30 main_gpu means split-mode none; negative means CPU."""
    value = s.num("main_gpu")
    if value is None or s.target < V0_30:
        return
    if value < 0:
        message = f"{s.shown('main_gpu')} runs the model on the CPU (split mode none with no GPU)"
        help_ = "use `num_gpu 0` to run on the CPU, or leave main_gpu unset"
    else:
        message = "main_gpu disables multi-GPU splitting (split mode none): the whole model goes on one GPU"
        help_ = "leave main_gpu unset unless you pin the model to one GPU on purpose"
    yield Finding("MPL724", "main_gpu", message, help=help_)


def runtime_no_effect(s: Subject) -> t.Iterator[Finding]:
    """Rule 19: use_mmap true (v0.30+), num_gpu < -1, num_thread < 0, drafting without a draft."""
    mmap = s.opts.get("use_mmap")
    if mmap is not None and mmap.value is True and s.target >= V0_30:
        yield Finding(
            "MPL725", "use_mmap", "only `use_mmap false` has an effect; true is the same as unset",
            help="remove `use_mmap true`", inert="no effect (only false does something)",
        )
    if (gpu := s.num("num_gpu")) is not None and gpu < -1:
        yield Finding("MPL725", "num_gpu", f"{s.shown('num_gpu')} is the same as automatic (-1)", help="write -1")
    if (threads := s.num("num_thread")) is not None and threads < 0:
        yield Finding("MPL725", "num_thread", f"{s.shown('num_thread')} is the same as automatic (0)", help="write 0")
    draft = s.num("draft_num_predict")
    if draft is not None and draft > 0 and s.kind == "model" and s.info is not None and s.info.mtp is False:
        yield Finding(
            "MPL725", "draft_num_predict", "the model has no draft model and no MTP tensors; draft_num_predict is ignored",
            help="remove draft_num_predict", inert="ignored (no draft model)",
        )


def stop_entries(s: Subject) -> t.Iterator[Finding]:
    """Rule 20: an empty stop string ends every generation at once; duplicates do nothing."""
    setting = s.opts.get("stop")
    if setting is None or not isinstance(setting.value, tuple):
        return
    seen: set[str] = set()
    for index, item in enumerate(setting.value):
        if item == "":
            yield Finding(
                "MPL726", "stop", "an empty stop string matches immediately and ends every generation",
                help="remove the empty string", element=index,
            )
        elif isinstance(item, str) and item in seen:
            yield Finding("MPL727", "stop", f"stop string {item!r} is listed twice", help="remove the duplicate", element=index)
        if isinstance(item, str):
            seen.add(item)


def seed_wraps(s: Subject) -> t.Iterator[Finding]:
    """Rule 21: only -1 means random; other negative seeds and seeds above 2^32 - 1 wrap."""
    value = s.num("seed")
    if value is not None and value > 4294967295:
        yield Finding(
            "MPL728", "seed", f"{s.shown('seed')} wraps modulo 2^32 (to {int(value) % 2**32})",
            help="use a seed between 0 and 4294967295",
        )
    elif value is not None and value < -1:
        yield Finding(
            "MPL728", "seed",
            f"only -1 means random on llama.cpp; {s.shown('seed')} is the fixed seed {int(value) % 2**32} there"
            " but random on MLX",
            help="write -1 for a random seed, or a seed between 0 and 4294967295",
        )


def negative_temperature(s: Subject) -> t.Iterator[Finding]:
    """Rule 3: a negative temperature is treated as 0 (greedy)."""
    value = s.num("temperature")
    if value is not None and value < 0:
        yield Finding(
            "MPL732", "temperature", f"{s.shown('temperature')} is treated as 0 (greedy decoding)",
            help="write `temperature 0`",
        )


def openai_overrides_modelfile(s: Subject) -> t.Iterator[Finding]:
    """Rule 22: OpenAI-compatible clients that omit these override the model's values."""
    if s.kind != "model":
        return
    names = [n for n in ("temperature", "top_p", "presence_penalty", "frequency_penalty") if n in s.opts]
    if names:
        yield Finding(
            "MPL729", None,
            f"the model sets {_names(names)}; OpenAI-compatible clients that omit them get temperature 1.0 / top_p 1.0"
            " (and penalties 0 on /v1/completions), overriding the Modelfile",
            help="send these options from OpenAI-compatible clients too, or use the native /api/chat",
            related=tuple(names),
        )


RULES: tuple[Rule, ...] = (
    greedy_ignores_filters,
    greedy_ignores_seed,
    negative_temperature,
    top_p_edges,
    min_p_high,
    typical_p_at_greedy,
    engine_ignores_option,
    repeat_penalty_range,
    penalty_window,
    penalty_with_drafting,
    mirostat_overrides,
    num_predict_range,
    num_ctx_range,
    num_keep_range,
    num_batch_effects,
    main_gpu_effects,
    runtime_no_effect,
    stop_entries,
    seed_wraps,
    openai_overrides_modelfile,
)


def run_rules(subject: Subject) -> list[Finding]:
    """Every finding of every rule for one subject, in rule order.

    >>> from mpl.compiler.program import Setting
    >>> from mpl.source import Span
    >>> opts = {n: Setting(n, v, Span(0, 1), Span(0, 1), "profile p", "p") for n, v in [("temperature", 0.0), ("top_k", 40)]}
    >>> [f.code for f in run_rules(Subject(opts, Version(0, 12, 0), "profile"))]
    ['MPL701']
    """
    return [finding for rule in RULES for finding in rule(subject)]


def _names(names: t.Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
