"""An XRootD server for the local stack that behaves like a tape endpoint (as CTA does).

Clients write into a disk buffer; the drive daemon migrates each closed file to a tape
folder and records its adler32; evicted files are OFFLINE until ``prepare(STAGE)`` recalls
them after a mount+seek delay (``NEARLINE_TAPE_STAGE_DELAY`` seconds, default 2); reading
an OFFLINE file fails, as on EOSCTA. See ``stack.tape`` and docs/tape-endpoint.md.

XRootD refuses to run as root, so the server and the drive run as the stack's unprivileged
service account.
"""

from __future__ import annotations

import shutil
import socket
import struct
from pathlib import Path

from nearline.daemons import (
    Daemon,
    StackError,
    give_to_service_account,
    wait_until,
)
from nearline.settings import Settings
from stack import tape


def folders(settings: Settings) -> dict[str, Path]:
    layout = tape.TapeLayout.of(settings)
    return {
        "root": layout.root,
        "buffer": layout.buffer,  # what the endpoint serves: files online
        "tape": layout.media,  # the "tape": files migrated
        "catalogue": layout.catalogue,
        "requests": layout.requests,
        "admin": layout.admin,
    }


def write_config(settings: Settings) -> Path:
    """Write xrootd.cfg, install the tape scripts and write their tape.env."""
    layout = tape.TapeLayout.of(settings)
    tape.install(layout)
    config = layout.root / "xrootd.cfg"
    config.write_text(
        "\n".join(
            [
                f"xrd.port {settings.ports.xrootd}",
                "xrd.network nodnr",
                # mig: files may live only in the remote storage (the tape folder); without
                # stage, opening such a file fails instead of recalling it behind our back.
                f"all.export {settings.tape.root} mig nostage nodread check",
                f"oss.localroot {layout.buffer}",
                f"oss.remoteroot {layout.media}",
                f"oss.rsscmd {layout.script('rss.sh')}",
                f"all.adminpath {layout.admin}",
                f"all.pidpath {layout.admin}",
                # A program, so that files only on tape report their recorded checksum too.
                f"xrootd.chksum adler32 {layout.script('cksum.sh')}",
                "ofs.preplib libXrdOfsPrepGPI.so -admit stage,evict,cancel,query"
                f" -run {layout.script('prepare.sh')}",
                "",
            ]
        )
    )
    return config


def daemon(settings: Settings) -> Daemon:
    layout = tape.TapeLayout.of(settings)
    binary = shutil.which("xrootd")
    if not binary:
        raise StackError("XRootD server not found: apt-get install xrootd-server")
    return Daemon(
        name="xrootd",
        command=[binary, "-c", str(layout.root / "xrootd.cfg"), "-n", tape.INSTANCE],
        run_dir=settings.home / "run",
        as_service_account=True,
    )


def start(settings: Settings) -> None:
    """Start the server and its tape drive unless they run; wait until it answers."""
    layout = tape.TapeLayout.of(settings)
    server, drive = daemon(settings), tape.drive(settings)
    if server.pid() is None or drive.pid() is None:
        # Only while stopped: a running server keeps the configuration it started with.
        write_config(settings)
        (layout.buffer / settings.tape.root.strip("/")).mkdir(parents=True, exist_ok=True)
        for folder in layout.folders():  # the service account's own; nobody else may enter
            folder.chmod(0o700)
        give_to_service_account(layout.root)
    server.start()
    drive.start()
    wait_until(lambda: healthy(settings), 30, "XRootD", server.log_file)


def healthy(settings: Settings) -> bool:
    return tape.drive(settings).pid() is not None and speaks_xrootd(settings.ports.xrootd)


def speaks_xrootd(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a data server answers XRootD's handshake on ``port``.

    Done over a plain socket: XRootD's client library keeps a connection per server and,
    once it has seen the server go away, waits minutes before connecting again, which
    would make a restarted server look dead to the process that restarted it.
    """
    try:
        with socket.create_connection((host, port), timeout=3) as connection:
            connection.sendall(struct.pack(">5i", 0, 0, 0, 4, 2012))  # the handshake
            answer = b""
            while len(answer) < 16:
                chunk = connection.recv(16 - len(answer))
                if not chunk:
                    return False
                answer += chunk
    except OSError:
        return False
    _stream, status, length, _protocol, server_type = struct.unpack(">2sHiii", answer)
    return status == 0 and length == 8 and server_type == 1  # kXR_ok, a data server


def stop(settings: Settings) -> None:
    tape.drive(settings).stop()
    daemon(settings).stop()


def purge_buffer(settings: Settings, path: str | None = None) -> list[str]:
    """Evict the disk-buffer copies of files that are on tape, as a tape system's garbage
    collector does: all of them, or those at ``path`` (a file or a folder of the tape
    namespace). They become OFFLINE. Files not migrated yet stay. Returns the paths evicted."""
    layout = tape.TapeLayout.of(settings)
    return tape.evict(layout, tape.buffered_files(layout, path or settings.tape.root))
