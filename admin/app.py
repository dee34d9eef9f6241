"""``nearline-admin``: the operators' own command, apart from the users' ``nearline``.

It starts with what runs the service (``serve``); the older operator tools are still
``nearline admin ...`` in the client's command until they move here (the layout issue).
Nothing here imports the client: an operator's host needs no user tooling, and the
client must never carry server code.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    help="nearline's operator commands: run the service and look after it.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _commands() -> None:
    """nearline's operator commands (the service's settings: NEARLINE_* or NEARLINE_CONFIG)."""


def main() -> None:
    # Each module registers its commands on ``app`` when imported.
    from admin import serve  # noqa: F401

    app()
