"""The SciCat archive system adapter (docs/scicat.md)."""
