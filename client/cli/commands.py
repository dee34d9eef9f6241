"""The user commands of ``nearline``; each lives in a module of its own, imported here."""
