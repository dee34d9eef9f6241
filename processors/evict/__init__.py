"""Eviction: cache copies of files with a verified tape copy removed by policy."""
