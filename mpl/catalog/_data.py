"""Catalog data as plain literals: every Ollama option key and Modelfile instruction.

Consumed only by `mpl.catalog.catalog()`, which validates it into pydantic models
once per process. Versions are written as text; each block cites its source section.
"""

from __future__ import annotations

import typing as t

SOURCES = (
    "Ollama's api/types.go (Options, Runner, DefaultOptions, FormatParams, FromMap) and "
    "parser/parser.go at every release tag from v0.0.3 to v0.32.15; llama.cpp's "
    "src/llama-sampling.cpp, common/sampling.cpp and common/arg.cpp; plus a reported v0.34.1 change"
)

# A default-history entry: (since, value) or (since, value, note); value None means
# "automatic / unset". Oldest first (`DefaultOptions()` in Ollama's `api/types.go`, per release tag).
Default = tuple[str, t.Any] | tuple[str, t.Any, str]

# Hard domains (where llama.cpp's `src/llama-sampling.cpp`, `common/sampling.cpp` and
# `tools/server/server-task.cpp`, or Ollama's `api/types.go`, reject or ignore a value):
# (minimum, maximum, min_exclusive, max_exclusive). Only truly meaningless or rejected
# values fall outside; soft advice belongs to lints. None = no hard domain.
GE0 = (0, None, False, False)
GT0 = (0, None, True, False)
GE_MINUS1 = (-1, None, False, False)
CLOSED_0_1 = (0, 1, False, False)
HALF_OPEN_0_1 = (0, 1, True, False)

# Key, Go type and first/last release: `Options` and `Runner` in Ollama's `api/types.go` at each tag.
# type: float32 -> float, int / *int -> int, bool / *bool -> bool, []string -> string_list.
# special: the values the samplers treat as off or special (`src/llama-sampling.cpp`, `common/common.h`).
OPTIONS: tuple[dict[str, t.Any], ...] = (
    # --- struct Options (sampling), still present in v0.32.15 ---------------------
    {
        "name": "num_keep", "type": "int", "struct": "options", "first": "0.0.13", "last": None,
        "domain": None,  # any negative acts as -1 (`llm/llama_server.go`)
        "defaults": [
            ("0.0.13", 0, "not set in DefaultOptions: Go's zero value"),
            ("0.0.14", -1), ("0.1.8", 0), ("0.1.33", 4),
        ],
        "description": "Prompt tokens kept at the start of the context when it overflows.",
        "special": {"0": "keep nothing", "-1": "keep the whole prompt (any negative value)"},
    },
    {
        "name": "seed", "type": "int", "struct": "options", "first": "0.0.3", "last": None,
        # Any int64 is accepted and means something (-2 is a fixed seed on llama.cpp):
        # seeds below -1 or above 4294967295 are a lint (rule 21), not a hard bound.
        "domain": None,
        "defaults": [("0.0.3", -1, "random; the docs wrongly say 0")],
        "description": "Seed of the random draw; -1 picks a random seed.",
        "special": {"-1": "random seed"},
    },
    {
        "name": "num_predict", "type": "int", "struct": "options", "first": "0.0.18", "last": None,
        "domain": None,  # -2 is legal but odd; lints handle it (`boundedNumPredict`, `llm/llama_server.go`)
        "defaults": [("0.0.18", 0, "not set in DefaultOptions: Go's zero value"), ("0.1.1", -1)],
        "description": "Maximum number of tokens to generate.",
        "special": {"-1": "unlimited (until a stop condition)"},
    },
    {
        "name": "top_k", "type": "int", "struct": "options", "first": "0.0.3", "last": None,
        "domain": None,  # <= 0 means off, >= vocabulary size means off (llama.cpp `src/llama-sampling.cpp`)
        "defaults": [("0.0.3", 40)],
        "description": "Keep only the k most likely tokens.",
        "special": {"0": "off (any value <= 0)"},
    },
    {
        "name": "top_p", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": CLOSED_0_1,  # 0 = one token on llama.cpp (`src/llama-sampling.cpp`)
        "defaults": [("0.0.3", 0.9)],
        "description": "Nucleus sampling: keep the smallest set of tokens reaching probability p.",
        "special": {
            "1": "off (any value >= 1)",
            "0": "one token (greedy) on llama.cpp and the Go sampler; off on MLX",
        },
    },
    {
        "name": "min_p", "type": "float", "struct": "options", "first": "0.3.1", "last": None,
        "domain": CLOSED_0_1,
        "defaults": [("0.3.1", 0.0, "not set, so Go's zero value")],
        "description": "Drop tokens less likely than min_p times the top token's probability.",
        "special": {"0": "off (any value <= 0)"},
    },
    {
        "name": "typical_p", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": HALF_OPEN_0_1,
        "defaults": [("0.0.3", 1.0)],
        "description": "Locally typical sampling: keep tokens whose surprise is near the entropy.",
        "special": {"1": "off (any value >= 1)"},
    },
    {
        "name": "repeat_last_n", "type": "int", "struct": "options", "first": "0.0.3", "last": None,
        "domain": GE_MINUS1,  # llama-server rejects < -1 (llama.cpp `tools/server/server-task.cpp`)
        "defaults": [("0.0.3", 512), ("0.0.13", 64)],
        "description": "Window of recent tokens (prompt included) that the penalties look at.",
        "special": {"0": "off (disables all three penalties)", "-1": "the context size (num_ctx)"},
    },
    {
        "name": "temperature", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": None,  # negative acts as 0 (`src/llama-sampling.cpp`): a lint (rule 3), not a hard bound
        "defaults": [("0.0.3", 0.8)],
        "description": "Divides the logits before the draw; lower is more deterministic.",
        "special": {"0": "greedy (any value <= 0)", "1": "distribution unchanged"},
    },
    {
        "name": "repeat_penalty", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": GT0,  # 0 forces repetition, negative flips signs (`src/llama-sampling.cpp`)
        "defaults": [
            ("0.0.3", 1.1),
            ("0.17.5", 1.0, "v0.17.5 only; reverted in v0.18.0"),
            ("0.18.0", 1.1),
            ("0.32.10", 1.0),
        ],
        "description": "Scales the logits of tokens seen in the last repeat_last_n tokens.",
        "special": {"1": "off"},
    },
    {
        "name": "presence_penalty", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": None,  # any finite value; negative rewards repetition (`src/llama-sampling.cpp`)
        "defaults": [("0.0.3", 0.0)],
        "description": "Subtracted once from the logit of every token in the penalty window.",
        "special": {"0": "off"},
    },
    {
        "name": "frequency_penalty", "type": "float", "struct": "options", "first": "0.0.3", "last": None,
        "domain": None,  # any finite value; negative rewards repetition (`src/llama-sampling.cpp`)
        "defaults": [("0.0.3", 0.0)],
        "description": "Subtracted per occurrence from the logit of tokens in the penalty window.",
        "special": {"0": "off"},
    },
    {
        "name": "stop", "type": "string_list", "struct": "options", "first": "0.0.13", "last": None,
        "domain": None,
        "defaults": [("0.0.13", None, "none")],
        "description": "Strings that end generation; a request's list replaces the model's.",
        "special": {},
    },
    # --- struct Options, removed (`api/types.go` at the releases named) -------------
    {
        "name": "tfs_z", "type": "float", "struct": "options", "first": "0.0.3", "last": "0.5.1",
        "domain": HALF_OPEN_0_1,
        "defaults": [("0.0.3", 1.0)],
        "description": "Tail-free sampling (removed from llama.cpp).",
        "special": {"1": "off"},
    },
    {
        "name": "mirostat", "type": "int", "struct": "options", "first": "0.0.3", "last": "0.6.8",
        "domain": (0, 2, False, False),  # ints {0, 1, 2}; others aborted the runner (§5)
        "defaults": [("0.0.3", 0)],
        "description": "Adaptive Mirostat sampling, replacing top_k/top_p/min_p/typical_p.",
        "special": {"0": "off", "1": "Mirostat", "2": "Mirostat 2.0"},
    },
    {
        "name": "mirostat_tau", "type": "float", "struct": "options", "first": "0.0.3", "last": "0.6.8",
        "domain": GT0,
        "defaults": [("0.0.3", 5.0)],
        "description": "Mirostat target surprise in bits; used only when mirostat is on.",
        "special": {},
    },
    {
        "name": "mirostat_eta", "type": "float", "struct": "options", "first": "0.0.3", "last": "0.6.8",
        "domain": HALF_OPEN_0_1,
        "defaults": [("0.0.3", 0.1)],
        "description": "Mirostat learning rate; used only when mirostat is on.",
        "special": {},
    },
    {
        "name": "penalize_newline", "type": "bool", "struct": "options", "first": "0.0.13", "last": "0.5.4",
        "domain": None,
        "defaults": [("0.0.13", True)],
        "description": "When false, the newline token was exempt from the penalties.",
        "special": {},
    },
    # --- struct Runner (load time; split out in v0.1.4), still present --------------
    {
        "name": "num_ctx", "type": "int", "struct": "runner", "first": "0.0.3", "last": None,
        "domain": None,  # < 4 is raised to 4, above trained length lowered: lints (§4.1)
        "defaults": [
            ("0.0.3", 512),
            ("0.0.6", 2048),
            ("0.5.13", 2048, "from OLLAMA_CONTEXT_LENGTH, default 2048"),
            ("0.6.7", 4096, "OLLAMA_CONTEXT_LENGTH default 4096"),
            ("0.15.5", None, "automatic: 4096, 32768 or 262144 by VRAM"),
        ],
        "description": "Context window per request slot, in tokens.",
        "special": {},  # unset = automatic; an explicit 0 means 4, not automatic
    },
    {
        "name": "num_batch", "type": "int", "struct": "runner", "first": "0.0.3", "last": None,
        "domain": None,  # <= 0 passes no flag (`appendBatchArgs`, `llm/llama_server.go`)
        "defaults": [("0.0.3", 512, "nominal; since v0.30.0 unset means automatic")],
        "description": "Prompt-processing batch size.",
        "special": {},
    },
    {
        "name": "num_gpu", "type": "int", "struct": "runner", "first": "0.0.3", "last": None,
        "domain": None,  # any negative equals -1 (`llm/llama_server.go`)
        "defaults": [("0.0.3", 1), ("0.0.20", -1, "decided automatically")],
        "description": "Number of layers offloaded to the GPU(s).",
        "special": {"-1": "automatic (any negative value)", "0": "CPU only"},
    },
    {
        "name": "main_gpu", "type": "int", "nullable_since": "0.30.0", "struct": "runner",
        "first": "0.0.3", "last": None,
        "domain": None,  # negative = CPU only under split mode none (`llm/llama_server.go`)
        "defaults": [
            ("0.0.3", 0, "plain int, Go zero value; only values > 0 reached the runner"),
            ("0.30.0", None, "*int, unset (nil)"),
        ],
        "description": "GPU that holds the whole model; setting it turns multi-GPU splitting off.",
        "special": {},
    },
    {
        "name": "use_mmap", "type": "bool", "nullable_since": "0.1.45", "struct": "runner",
        "first": "0.0.3", "last": None,
        "domain": None,
        # v0.1.45 only: a TriState integer, so `PARAMETER use_mmap false` fails with
        # `invalid int value [false]` (`api/types.go` before v0.2.0); *bool since v0.2.0.
        "modelfile_types": [
            ("0.1.45", "int", "a TriState integer: `invalid int value` for true/false"),
            ("0.1.46", "bool"),
        ],
        "defaults": [("0.0.3", True), ("0.1.45", None, "unset: Ollama decides")],
        "description": "Memory-map the model file; only false has an effect since v0.30.0.",
        "special": {},
    },
    {
        "name": "num_thread", "type": "int", "struct": "runner", "first": "0.0.3", "last": None,
        "domain": None,  # <= 0 is not passed, the runtime decides (`llm/llama_server.go`)
        "defaults": [("0.0.3", None, "the number of CPUs"), ("0.0.18", 0, "runtime decides")],
        "description": "CPU threads used for generation.",
        "special": {"0": "automatic"},
    },
    {
        "name": "draft_num_predict", "type": "int", "struct": "runner", "first": "0.30.0", "last": None,
        "domain": None,  # <= 0 disables drafting (`server/routes.go`, `llm/llama_server.go`)
        "defaults": [("0.30.0", 4, "forced to 0 when the model has no draft and nothing sets it")],
        "description": "Maximum tokens drafted per step for speculative decoding.",
        "special": {"0": "off (any value <= 0)"},
    },
    # --- struct Runner, removed (`api/types.go` at the releases named) --------------
    # `DefaultOptions()` gave no default for most of these (f16_kv aside); false is what
    # DefaultOptions sets (numa, low_vram, use_mlock) or Go's zero value.
    {
        "name": "numa", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.3.3",
        "domain": None, "defaults": [("0.0.3", False)],
        "description": "NUMA optimisations (llama.cpp --numa).", "special": {},
    },
    {
        "name": "low_vram", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.6.8",
        "domain": None, "defaults": [("0.0.3", False)],
        "description": "Old llama.cpp low-VRAM flag; no effect in later runners.", "special": {},
    },
    {
        "name": "f16_kv", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.6.8",
        "domain": None,
        "defaults": [("0.0.3", True), ("0.4.1", False, "no longer set; Go zero value")],
        "description": "Old llama.cpp flag: half-precision KV cache.", "special": {},
    },
    {
        "name": "logits_all", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.6.8",
        "domain": None, "defaults": [("0.0.3", False)],
        "description": "Old llama.cpp flag: return logits for every token.", "special": {},
    },
    {
        "name": "vocab_only", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.6.8",
        "domain": None, "defaults": [("0.0.3", False)],
        "description": "Old llama.cpp flag: load only the vocabulary.", "special": {},
    },
    {
        "name": "use_mlock", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.6.8",
        "domain": None, "defaults": [("0.0.3", False)],
        "description": "Lock the model in RAM (llama.cpp --mlock).", "special": {},
    },
    {
        "name": "embedding_only", "type": "bool", "struct": "runner", "first": "0.0.3", "last": "0.1.27",
        "domain": None,
        "defaults": [("0.0.3", False, "not set in DefaultOptions: Go's zero value"), ("0.0.14", True)],
        "description": "Load the model for embeddings only.", "special": {},
    },
    {
        "name": "num_gqa", "type": "int", "struct": "runner", "first": "0.0.13", "last": "0.1.34",
        "domain": None, "defaults": [("0.0.13", 1)],
        "description": "GQA factor needed by GGML-era Llama 2 70B files.", "special": {},
    },
    {
        "name": "rope_frequency_base", "type": "float", "struct": "runner",
        "first": "0.0.14", "last": "0.1.34",
        "domain": None,
        "defaults": [("0.0.14", 10000.0), ("0.1.32", 0.0, "no longer set: Go's zero value, the model's own")],
        "description": "RoPE base frequency override (llama.cpp --rope-freq-base).", "special": {},
    },
    {
        "name": "rope_frequency_scale", "type": "float", "struct": "runner",
        "first": "0.0.14", "last": "0.1.34",
        "domain": None,
        "defaults": [("0.0.14", 1.0), ("0.1.32", 0.0, "no longer set: Go's zero value, the model's own")],
        "description": "RoPE frequency scale override (llama.cpp --rope-freq-scale).", "special": {},
    },
)

# The release after each "last" version above: the first release without the key
# (the first tag whose `api/types.go` lacks it), plus ADAPTER's reported v0.34.1.
RELEASE_AFTER: dict[str, str] = {
    "0.1.27": "0.1.28",
    "0.1.34": "0.1.35",
    "0.3.3": "0.3.4",
    "0.5.1": "0.5.2",
    "0.5.4": "0.5.5",
    "0.6.8": "0.7.0",
}

# The CLI's `deprecatedParameters` (parser/parser.go), warned about and dropped by
# `ollama create`: (since, names); none before v0.5.5.
DEPRECATED_PARAMETERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("0.5.5", frozenset({"penalize_newline"})),
    ("0.7.0", frozenset({
        "penalize_newline", "low_vram", "f16_kv", "logits_all", "vocab_only",
        "use_mlock", "mirostat", "mirostat_tau", "mirostat_eta",
    })),
)

# What the server does with an unknown runtime option key (`Options.FromMap` in
# `api/types.go`, per release): (since, ignored?). Before v0.0.13 is not recorded; treated as ignored.
RUNTIME_UNKNOWN_KEYS: tuple[tuple[str, bool], ...] = (
    ("0.0.3", True),    # v0.0.13-v0.1.1: silently ignored
    ("0.1.2", False),   # v0.1.2-v0.1.34: error `invalid options: ...`
    ("0.1.35", True),   # since v0.1.35: warned (server log) and ignored
)

# Names people write for an option, from other APIs (for `Catalog.suggest`).
# temp, gpu_layers, mirostat_lr: Ollama's own v0.0.1-v0.0.2 API (`api/types.go` at v0.0.1);
# max_tokens: the OpenAI/Anthropic/Meton name for num_predict (`openai/openai.go`).
ALIASES: dict[str, str] = {
    "temp": "temperature",
    "gpu_layers": "num_gpu",
    "mirostat_lr": "mirostat_eta",
    "max_tokens": "num_predict",
    "n_predict": "num_predict",
    "n_ctx": "num_ctx",
    "repetition_penalty": "repeat_penalty",
}

# Modelfile instructions, first releases read
# from parser/parser.go at each tag: v0.0.6 has the first Modelfile parser (FROM,
# PARAMETER); LICENSE from v0.0.8; TEMPLATE and SYSTEM from v0.0.9; ADAPTER from v0.0.15.
# The old line scanner (before v0.1.34) skipped an instruction it did not know.
_OLD_SCANNER = "In the old line scanner before v0.1.34; the state-machine parser since v0.1.34."
INSTRUCTIONS: tuple[dict[str, t.Any], ...] = (
    {"keyword": "FROM", "first": "0.0.6", "last": None,
     "note": "Required: at least one. " + _OLD_SCANNER},
    {"keyword": "PARAMETER", "first": "0.0.6", "last": None,
     "note": "The name is case-sensitive. " + _OLD_SCANNER},
    {"keyword": "TEMPLATE", "first": "0.0.9", "last": None, "note": _OLD_SCANNER},
    {"keyword": "SYSTEM", "first": "0.0.9", "last": None, "note": _OLD_SCANNER},
    {"keyword": "ADAPTER", "first": "0.0.15", "last": None, "reported_from": "0.34.1",
     "reference": "generative-computing/mellea#1651, ollama/ollama#14969",
     "note": ("A third-party report (generative-computing/mellea#1651) says the CLI refuses "
              "ADAPTER lines from v0.34.1, citing ollama/ollama#14969; that pull request rejects "
              "safetensors adapters and still accepts GGUF ones. Not confirmed from a release's "
              "source: unknown, not refused. " + _OLD_SCANNER)},
    {"keyword": "LICENSE", "first": "0.0.8", "last": None,
     "note": "Several allowed; they accumulate. " + _OLD_SCANNER},
    {"keyword": "MESSAGE", "first": "0.1.21", "last": None,
     "note": "Roles: lowercase system, user, assistant (since v0.1.34; case-insensitive before)."},
    {"keyword": "RENDERER", "first": "0.12.0", "last": None, "note": ""},
    {"keyword": "PARSER", "first": "0.12.0", "last": None, "note": ""},
    {"keyword": "REQUIRES", "first": "0.14.0", "last": None,
     "note": "Checked as semver by the CLI; the server stores it and never enforces it."},
    {"keyword": "DRAFT", "first": "0.30.0", "last": None,
     "note": ("Parsed since v0.23.1, but v0.23.1-v0.24.0 refuse it with "
              "`DRAFT requires --experimental`; since v0.30.0 it becomes draft_files.")},
)
