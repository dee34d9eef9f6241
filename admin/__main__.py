"""``python -m admin``: the same as ``nearline-admin`` (for a checkout without the
console script installed, and for the demo)."""

from admin.app import main

main()
