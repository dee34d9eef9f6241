"""``nearline-admin serve``: the API and every processor in one foreground process, each
restarted when it exits (admin.supervisor); ``--status`` shows what it runs."""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

import typer

from admin import supervisor
from admin.app import app
from nearline.settings import get_settings

NOT_RUNNING = 3  # as ``systemctl status`` says of a unit that is not running


@app.command("serve")
def serve(
    status: Annotated[
        bool, typer.Option("--status", help="show each process's state and exit")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --status: print JSON")] = False,
) -> None:
    """Run the API and every processor (serve.instances of each) until SIGTERM or SIGINT,
    restarting any that exits; for systemd (Type=simple) or a terminal."""
    settings = get_settings()
    if status:
        state = supervisor.read_state(settings)
        typer.echo(json.dumps(state, indent=2) if as_json else table(state))
        raise typer.Exit(0 if state and state["alive"] else NOT_RUNNING)
    try:
        supervisor.serve(settings, log=typer.echo)
    except supervisor.SupervisorError as error:
        typer.echo(f"nearline-admin serve: {error}", err=True)
        raise typer.Exit(1) from None


def table(state: dict[str, Any] | None) -> str:
    """The state file as an operator reads it."""
    if state is None:
        return "nearline-admin serve has not run in this home (no run/serve.json)"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state["started"]))
    if state["alive"]:
        head = f"supervisor pid {state['pid']}, running since {since}, home {state['home']}"
    else:
        head = f"no supervisor runs (the last, pid {state['pid']}, started {since})"
    rows = [("PROCESS", "STATE", "PID", "RESTARTS", "LAST EXIT", "SINCE")]
    for name, p in state["processes"].items():
        rows.append(
            (
                name,
                p["state"],
                str(p["pid"] or "-"),
                str(p["restarts"]),
                "-" if p["last_exit"] is None else supervisor.describe(p["last_exit"]),
                time.strftime("%H:%M:%S", time.localtime(p["since"])) if p["since"] else "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    off = [f"{name}: not started, {why}" for name, why in state.get("off", {}).items()]
    return "\n".join([head, *(line.rstrip() for line in lines), *off])
