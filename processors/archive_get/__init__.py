"""Recalls from tape: the archive-get worker (decision D80)."""
