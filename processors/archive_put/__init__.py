"""Archiving: aggregates of holdings' files written to, and read back from, tape."""
