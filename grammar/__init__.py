"""The grammar of the mpl profile language, shipped as package data."""
