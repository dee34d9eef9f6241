"""``nearline login`` and ``nearline logout``."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from client.cli import app
from client.cli.common import Json, Server, client, handled, out, print_json
from client.library.tokens import forget_session, token_path, write_nlds_files


@app.command()
@handled
def login(
    server: Server = None,
    user: Annotated[
        str | None, typer.Option("--user", "-u", help="Default: your login name.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    nlds: Annotated[
        bool,
        typer.Option(
            "--nlds",
            help="Also write the token for the nlds client (the file ~/.nlds-config names, "
            "and ~/.nlds-config itself if missing).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Log in: get tokens for your user name and password and keep them (mode 0600)."""
    name = user or os.environ.get("USER") or getpass.getuser()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt(f"Password for {name}", hide_input=True)
    with client(server) as nearline:
        session = nearline.login(name, password)
        written: list[str] = [str(token_path())]
        if nlds:
            me = nearline.whoami()
            token_file, config = write_nlds_files(session, me.get("primary_group") or "")
            written += [str(token_file)] + ([str(config)] if config else [])
    if as_json:
        print_json({"server": session.server, "user": session.user, "written": written})
    else:
        out.print(f"Logged in to {session.server} as {session.user}.", markup=False)
        for path in written[1:]:
            out.print(f"Wrote {path}", markup=False)


@app.command()
def logout() -> None:
    """Forget the stored login."""
    forget_session()
    out.print("Logged out.", markup=False)
