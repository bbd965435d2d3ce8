"""mpl eval: run a suite of cases against arms on an Ollama server and compare them."""
