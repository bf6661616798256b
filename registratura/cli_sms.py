"""``registratura sms ...``: look into the SMS outbox, send what is due, queue reminders.

Mounted by ``registratura.cli`` as ``app.add_typer(sms_app, name="sms")``.
"""

from __future__ import annotations

import logging

import typer
from rich.console import Console
from rich.table import Table

from registratura.bootstrap import Container, bootstrap
from registratura.logging_setup import configure_logging
from registratura.settings import load_settings

logger = logging.getLogger(__name__)
console = Console()

sms_app = typer.Typer(help="SMS confirmations and reminders (the outbox).", no_args_is_help=True)

STATUS_STYLE = {"pending": "yellow", "sending": "cyan", "sent": "green", "delivered": "green",
                "failed": "red", "dead": "red"}


def _container() -> Container:
    settings = load_settings()
    configure_logging(settings.log_level)
    return bootstrap(settings)


@sms_app.command("outbox")
def sms_outbox(
    limit: int = typer.Option(30, help="How many of the newest messages."),
    status: str = typer.Option("", help="Only this status: pending, sending, sent, delivered, "
                               "failed, dead."),
    text: bool = typer.Option(False, "--text", help="Show the message texts too."),
) -> None:
    """List recent messages (phone numbers masked) and the count per status."""
    from booking_core import outbox

    container = _container()
    try:
        entries = outbox.recent(container.uow(), limit=limit, status=status or None)
        totals = outbox.counts(container.uow())
    finally:
        container.dispose()
    table = Table(title="SMS outbox (newest first, times UTC)")
    for column in ("id", "created", "kind", "to", "status", "tries", "segm.", "provider id",
                   "last error"):
        table.add_column(column, no_wrap=column in ("id", "created", "to", "status"),
                         overflow="fold")
    for e in entries:
        style = STATUS_STYLE.get(e.status, "")
        table.add_row(str(e.id), f"{e.created_at:%d.%m %H:%M}", e.kind, e.phone_masked,
                      f"[{style}]{e.status}[/{style}]" if style else e.status, str(e.attempts),
                      str(e.segments or "-"), e.provider_id or "-", e.last_error or "")
    console.print(table)
    if text:
        for e in entries:
            console.print(f"#{e.id}: {e.body or '(the text is rendered when it is sent)'}",
                          markup=False, highlight=False)
    summary = ", ".join(f"{k}: {v}" for k, v in sorted(totals.items())) or "empty"
    console.print(f"All messages — {summary}.")


@sms_app.command("send-pending")
def sms_send_pending(
    batch: int = typer.Option(50, help="At most this many messages in this round."),
) -> None:
    """Run one round of the SMS worker: send what is due, with the configured provider."""
    from sms.worker import OutboxWorker

    container = _container()
    try:
        worker = OutboxWorker(container, batch=batch, reminders_enabled=False)
        result = worker.run_once()
    finally:
        container.dispose()
    console.print(f"Provider {worker.provider.name}: {result.claimed} due, {result.sent} sent, "
                  f"{result.reconciled} found already sent, {result.retried} to retry, "
                  f"{result.dead} given up.")
    if result.errors:
        console.print(f"[yellow]Last error:[/yellow] {result.errors[-1]}")
    raise typer.Exit(0 if not result.dead else 1)


@sms_app.command("reminders")
def sms_reminders() -> None:
    """Queue tomorrow's reminder SMS now (once per appointment; the worker sends them)."""
    from booking_core.reminders import ReminderPolicy, enqueue_due_reminders

    container = _container()
    settings = container.settings
    try:
        policy = ReminderPolicy(hour=settings.reminder_hour, calls=settings.reminder_calls,
                                call_hour=settings.reminder_call_hour)
        queued = enqueue_due_reminders(container.uow(), policy, force=True)
    finally:
        container.dispose()
    console.print(f"Reminders queued for tomorrow: {queued}. The SMS worker of 'registratura "
                  "serve' sends them, or run 'registratura sms send-pending'.")
