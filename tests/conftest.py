"""Shared pytest set-up: the tests folder is importable, the CLI is pinned to plain output."""

import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).parent))

# CLI output must not depend on the terminal running the tests.
os.environ["NO_COLOR"] = "1"
os.environ.pop("FORCE_COLOR", None)
os.environ["COLUMNS"] = "100"

# The fake Ollama server's fixtures (`server`, `fake_ollama`), for every test.
from fake_ollama import fake_ollama, server  # noqa: E402, F401
