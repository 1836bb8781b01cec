"""``interbank pki ...``: the network's certificate authority (hooked into ``cli.py``).

Every command takes ``--dir DIR`` (default: the environment variable
``INTERBANK_PKI_DIR``, else ``./pki``). The work is done by ``interbank.api.pki``,
imported inside the commands so that ``--help`` stays fast. docs/pki.md is the
operator's guide.

Exit codes: 0 success; 2 bad input or a PKI directory that cannot be used (missing
CA, wrong passphrase, a serial this CA never issued), printed as one line with its
ISO 20022 reason code where there is one (RC01 bad BIC, AM03 bad currency).
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, ParamSpec

import typer
from rich.console import Console
from rich.table import Table

P = ParamSpec("P")

EXIT_USAGE = 2
PKI_DIR_ENV = "INTERBANK_PKI_DIR"
PKI_DIR_DEFAULT = "./pki"
PIPE_COLUMNS = 160
ROLES = ("participant", "central_bank", "operator", "auditor")
REVOCATION_REASONS = (
    "unspecified",
    "key_compromise",
    "affiliation_changed",
    "superseded",
    "cessation_of_operation",
    "privilege_withdrawn",
)

pki_app = typer.Typer(
    name="pki",
    help="The network's certificate authority: client certificates for mutual TLS.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        envvar=PKI_DIR_ENV,
        metavar="DIR",
        help=f"The PKI directory (env {PKI_DIR_ENV}).",
        show_default=True,
    ),
]
HostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--host",
        metavar="NAME_OR_IP",
        help="A name or address clients use to reach the service (repeat for more); "
        "localhost, 127.0.0.1 and ::1 are always included.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


@contextmanager
def _pki_errors() -> Iterator[None]:
    """PkiError and file errors become one line and exit code 2; the rest goes to
    cli._user_errors, which turns a bug into one line too."""
    from interbank.api.pki import PkiError
    from interbank.cli import UserError, _user_errors

    with _user_errors():
        try:
            yield
        except PkiError as error:
            raise UserError(error.text, EXIT_USAGE, error.reason_code) from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise UserError(f"{error.strerror or error}{where}", EXIT_USAGE) from None


def _guarded(command: Callable[P, None]) -> Callable[P, None]:
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        with _pki_errors():
            command(*args, **kwargs)

    return run


def _out() -> Console:
    width = None if sys.stdout.isatty() else PIPE_COLUMNS
    return Console(highlight=False, soft_wrap=True, width=width)


def _print_json(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")


@pki_app.command("init")
@_guarded
def init_command(
    pki_dir: DirOption = Path(PKI_DIR_DEFAULT),
    host: HostOption = None,
    name: Annotated[
        str, typer.Option("--name", help="The network's name, in the CA's subject.")
    ] = "interbank",
    ca_days: Annotated[int, typer.Option("--ca-days", help="The CA's validity in days.")] = 3650,
    server_days: Annotated[
        int, typer.Option("--server-days", help="The server certificate's validity in days.")
    ] = 365,
) -> None:
    """Create the certificate authority, the service's server certificate and an empty
    revocation list. The CA key is encrypted when INTERBANK_PKI_PASSPHRASE is set."""
    from interbank.api import pki

    paths = pki.init_directory(pki_dir, name, host or [], ca_days, server_days)
    out = _out()
    out.print(f"CA certificate  {paths.ca_certificate}  (give it to every participant)")
    out.print(f"CA key          {paths.ca_key}  (0600; keep it offline between uses)")
    out.print(f"server          {paths.server_certificate}, {paths.server_key}")
    out.print(f"revocation list {paths.crl}")


@pki_app.command("issue")
@_guarded
def issue_command(
    bic: Annotated[str, typer.Argument(help="The holder's BIC (ISO 9362, 8 or 11 characters).")],
    role: Annotated[str, typer.Option("--role", help=f"One of: {', '.join(ROLES)}.")],
    pki_dir: DirOption = Path(PKI_DIR_DEFAULT),
    currency: Annotated[
        str | None,
        typer.Option("--currency", help="The currency a central bank issues (ISO 4217)."),
    ] = None,
    holder: Annotated[
        str | None,
        typer.Option(
            "--holder",
            help="The person or system holding the key (CN); required for operators, "
            "whose maker-checker tells people apart by it.",
        ),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Validity in days (at most 825).")] = 365,
    csr: Annotated[
        Path | None,
        typer.Option(
            "--csr",
            metavar="FILE",
            help="Sign this certificate signing request (PEM or DER) instead of making a "
            "key: the private key then never leaves the bank.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIR", help="Where to write the files [default: DIR/clients]."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Issue a client certificate naming BIC and role."""
    from interbank.api import pki

    if role not in ROLES:
        raise pki.PkiError(f"--role {role!r}: one of {', '.join(ROLES)}")
    if role == "operator" and not holder:
        raise pki.PkiError("an operator's certificate names its holder: add --holder NAME")
    profile = pki.ClientProfile(
        pki.canonical_bic(bic.strip().upper()),
        pki.ClientRole(role),
        currency.strip().upper() if currency else None,
        holder,
    )
    csr_pem = csr.read_bytes() if csr is not None else None
    issued = pki.issue(pki_dir, profile, days, csr_pem, out_dir)
    certificate = issued.certificate
    summary = {
        "serial": pki.serial_hex(certificate.serial_number),
        "bic": profile.bic,
        "role": profile.role.value,
        "currency": profile.currency,
        "holder": profile.holder or profile.bic,
        "urn": profile.urn,
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "certificate": str(issued.certificate_path),
        "key": str(issued.key_path) if issued.key_path else None,
    }
    if as_json:
        _print_json(summary)
        return
    out = _out()
    for field, value in summary.items():
        if value is not None:
            out.print(f"{field:<12}{value}")
    if issued.key_path is not None:
        out.print("hand the key over by a secure channel and delete this copy afterwards")


@pki_app.command("revoke")
@_guarded
def revoke_command(
    certificate: Annotated[
        str, typer.Argument(metavar="SERIAL|CERT", help="A serial (hex) or a certificate file.")
    ],
    pki_dir: DirOption = Path(PKI_DIR_DEFAULT),
    reason: Annotated[
        str,
        typer.Option("--reason", help=f"One of: {', '.join(REVOCATION_REASONS)}."),
    ] = "unspecified",
) -> None:
    """Put a certificate on the revocation list; the service stops accepting it within a
    second of the list being written."""
    from cryptography import x509

    from interbank.api import pki

    if reason not in REVOCATION_REASONS:
        raise pki.PkiError(f"--reason {reason!r}: one of {', '.join(REVOCATION_REASONS)}")
    flag = x509.ReasonFlags[reason]
    serial, newly = pki.revoke(pki_dir, certificate, flag)
    shown = pki.serial_hex(serial)
    paths = pki.PkiPaths(pki_dir)
    if newly:
        _out().print(f"revoked {shown}; {paths.crl} re-signed")
    else:
        _out().print(f"{shown} was already revoked; nothing changed")


@pki_app.command("list")
@_guarded
def list_command(pki_dir: DirOption = Path(PKI_DIR_DEFAULT), as_json: JsonOption = False) -> None:
    """Every certificate the CA issued, with expiry and revocation."""
    from interbank.api import pki

    entries = pki.issued_entries(pki_dir)
    rows = [
        {
            "serial": pki.serial_hex(entry.serial),
            "subject": entry.subject,
            "urn": entry.urn,
            "not_after": entry.not_after.isoformat(),
            "revoked": entry.revoked,
        }
        for entry in entries
    ]
    if as_json:
        _print_json(rows)
        return
    table = Table("serial", "subject", "not after (UTC)", "revoked")
    for row, entry in zip(rows, entries, strict=True):
        table.add_row(
            str(row["serial"]),
            entry.subject,
            f"{entry.not_after:%Y-%m-%d %H:%M}",
            "revoked" if entry.revoked else "",
        )
    _out().print(table)


@pki_app.command("crl")
@_guarded
def crl_command(pki_dir: DirOption = Path(PKI_DIR_DEFAULT)) -> None:
    """Re-sign the revocation list with a new next-update date (run it from cron: the
    list is due again after 30 days)."""
    from interbank.api import pki

    crl = pki.refresh_crl(pki_dir)
    _out().print(
        f"{pki.PkiPaths(pki_dir).crl}: {len(list(crl))} revoked, next update "
        f"{crl.next_update_utc:%Y-%m-%d %H:%M}Z"
    )


@pki_app.command("server")
@_guarded
def server_command(
    pki_dir: DirOption = Path(PKI_DIR_DEFAULT),
    host: HostOption = None,
    days: Annotated[int, typer.Option("--days", help="Validity in days.")] = 365,
) -> None:
    """Issue a new server key and certificate (on expiry, or for new host names);
    restart the service to use them."""
    from interbank.api import pki

    certificate = pki.reissue_server(pki_dir, host or [], days)
    _out().print(
        f"server certificate {pki.serial_hex(certificate.serial_number)} valid until "
        f"{certificate.not_valid_after_utc:%Y-%m-%d %H:%M}Z"
    )
