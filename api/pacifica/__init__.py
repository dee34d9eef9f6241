"""Pacifica's archive interface and cart service, on their own wire (docs/pacifica.md)."""
