"""``registratura api-client ...``: register the programs that book through ``/fhir/R4``.

Mounted by ``registratura.cli`` as ``app.add_typer(api_client_app, name="api-client")``.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from booking_core import api_clients
from booking_core.actors import Actor
from booking_core.errors import DomainError
from models.migrate import upgrade
from registratura.bootstrap import Container, bootstrap
from registratura.logging_setup import configure_logging
from registratura.settings import load_settings

console = Console()
api_client_app = typer.Typer(help="API clients of the FHIR scheduling API (portal, infomat, "
                                  "MIS).", no_args_is_help=True)

DEFAULT_SCOPES = "system/*.read system/Appointment.write system/Patient.search"


def _container() -> Container:
    settings = load_settings()
    configure_logging(settings.log_level)
    container = bootstrap(settings)
    upgrade(container.engine)
    return container


@api_client_app.command("add")
def add(
    client_id: str = typer.Argument(..., help="The client's id (latin letters, digits, . _ -)."),
    channel: str = typer.Option(..., "--channel",
                                help="internet (portal), infomat, or desk (the MIS)."),
    name: str = typer.Option("", "--name", help="Shown in the audit log and the console."),
    scopes: str = typer.Option(DEFAULT_SCOPES, "--scopes", help="Space-separated: "
                               + ", ".join(api_clients.KNOWN_SCOPES) + " (or system/*.read)."),
    per_minute: int = typer.Option(120, "--per-minute", help="Requests per minute (per process)."),
) -> None:
    """Register a client; its secret is printed once, now."""
    container = _container()
    try:
        client, secret = api_clients.register_client(api_clients.NewClient(
            client_id, name, channel, tuple(scopes.split()), Actor.system("cli"), per_minute),
            container.uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Client [bold]{client.client_id}[/bold] ({client.channel}) registered.")
    console.print(f"client_secret (shown only now): [bold]{secret}[/bold]")


@api_client_app.command("list")
def list_() -> None:
    """The registered clients (never their secrets)."""
    table = Table(title="API clients")
    for column in ("client id", "name", "channel", "scopes", "per minute", "active"):
        table.add_column(column)
    for c in api_clients.list_clients(_container().uow()):
        table.add_row(c.client_id, c.name, c.channel, " ".join(sorted(c.scopes)),
                      str(c.requests_per_minute), "yes" if c.active else "no")
    console.print(table)


@api_client_app.command("disable")
def disable(client_id: str = typer.Argument(..., help="The client's id.")) -> None:
    """Disable a client: its tokens stop working at once."""
    try:
        api_clients.set_client_active(client_id, False, Actor.system("cli"), _container().uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Client [bold]{client_id}[/bold] disabled.")


@api_client_app.command("enable")
def enable(client_id: str = typer.Argument(..., help="The client's id.")) -> None:
    """Enable a disabled client again (it must ask for a new token)."""
    try:
        api_clients.set_client_active(client_id, True, Actor.system("cli"), _container().uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Client [bold]{client_id}[/bold] enabled.")
