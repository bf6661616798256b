"""The ``registratura`` command line: serve, database, demo data, slots."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from registratura.bootstrap import Container, bootstrap
from registratura.cli_api_clients import api_client_app
from registratura.cli_sms import sms_app
from registratura.logging_setup import configure_logging
from registratura.secret_key import InsecureSecretKey
from registratura.settings import Settings, load_settings

logger = logging.getLogger(__name__)
console = Console()

app = typer.Typer(help="Registratura: the telephone registry of a polyclinic.",
                  no_args_is_help=True,
                  pretty_exceptions_show_locals=False)  # locals may hold personal data
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
slots_app = typer.Typer(help="Appointment slots.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(slots_app, name="slots")
speech_app = typer.Typer(help="Speech recognition models.", no_args_is_help=True)
app.add_typer(speech_app, name="speech")
app.add_typer(sms_app, name="sms")
app.add_typer(api_client_app, name="api-client")
agent_app = typer.Typer(help="Console users (admin, agent, observer).", no_args_is_help=True)
app.add_typer(agent_app, name="agent")
line_app = typer.Typer(help="Dialled numbers: a clinic's own line or the region's shared one.",
                       no_args_is_help=True)
app.add_typer(line_app, name="line")


def _container(process_tag: str = "") -> Container:
    settings = load_settings()
    configure_logging(settings.log_level, process_tag=process_tag)
    try:
        return bootstrap(settings)
    except InsecureSecretKey as exc:
        console.print(f"[red]Not started:[/red] {exc}")
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    console=console, transient=True)


def _generate_slots(container: Container) -> int:
    from booking_core.slots import generate_slots

    with _progress() as progress:
        task = progress.add_task("Generating slots", total=None)

        def report(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return generate_slots(container.uow(), progress=report)


def _prepare(container: Container, seed: bool) -> None:
    """Migrate, seed the demo clinic on first run, fill the slot window."""
    from models.migrate import upgrade
    from registratura.demo import seed_demo

    upgrade(container.engine)
    logins: list = []
    if seed and seed_demo(container.uow(), logins=logins):
        console.print("[green]Demo clinic created[/green] (first run).")
        print_demo_patients()
        print_demo_logins(logins)
    created = _generate_slots(container)
    console.print(f"Slots ready ({created} new).")
    _say_what_next(container)


def _say_what_next(container: Container) -> None:
    """On an empty database, tell the clinic's IT person how to bring their clinic in."""
    from booking_core.agents import count_agents
    from booking_core.clinic_admin import clinic_ready

    if clinic_ready(container.uow()):
        return
    settings = container.settings
    url = f"http://{settings.http_host}:{settings.http_port}"
    steps = ["[yellow]The clinic is not set up yet[/yellow]: no doctors, so nothing can be "
             "booked; the phone line says booking is not available yet and hands callers to "
             "an operator. Next:"]
    if count_agents(container.uow()) == 0:
        steps.append("  • create an admin: registratura agent add NAME --role admin")
    steps += [f"  • import the clinic's files: registratura import FILE... --dry-run "
              f"(or upload them at {url}/admin/import)",
              f"  • or add clinic, districts, specialties, doctors and schedules at {url}/admin",
              "  • then generate slots: registratura slots generate"]
    console.print("\n".join(steps))


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the database migrations."""
    container = _container()
    from models.migrate import upgrade

    upgrade(container.engine, revision)
    console.print(f"Database is at revision [bold]{revision}[/bold].")


@app.command()
def seed(
    demo: bool = typer.Option(False, "--demo", help="Create the demo polyclinic."),
    region: bool = typer.Option(False, "--region", help="With --demo: a second polyclinic "
                                "(№ 7) and three lines, one per clinic and a regional one."),
) -> None:
    """Load data: ``--demo`` creates one polyclinic with doctors, slots and patients."""
    if not demo:
        console.print("Nothing to do: pass --demo.")
        raise typer.Exit(2)
    container = _container()
    from models.migrate import upgrade
    from registratura.demo import seed_demo, seed_region_demo

    upgrade(container.engine)
    logins: list = []
    if seed_demo(container.uow(), logins=logins):
        console.print("[green]Demo clinic created.[/green]")
    else:
        console.print("The demo clinic already exists.")
    if region:
        if seed_region_demo(container.uow()):
            console.print("[green]Second demo clinic and the region's lines created.[/green]")
        else:
            console.print("The second demo clinic already exists.")
    created = _generate_slots(container)
    console.print(f"{created} new slots.")
    print_demo_patients(region=region)
    print_demo_logins(logins)
    if region:
        _print_lines(container)


def print_demo_patients(*, region: bool = False) -> None:
    """The demo patients as a table (their data is invented, so printing it is fine)."""
    from registratura.demo import DEMO_PATIENTS, REGION_PATIENTS

    table = Table(title="Demo patients")
    for column in ("who", "name", "policy (16 digits)", "date of birth", "keypad DOB"):
        table.add_column(column, no_wrap=column != "name")
    for p in DEMO_PATIENTS + (REGION_PATIENTS if region else []):
        table.add_row(p.role, p.full_name, p.policy_number, p.birth_date.isoformat(),
                      p.birth_date.strftime("%d%m%Y"))
    console.print(table)


def print_demo_logins(logins: list) -> None:  # type: ignore[type-arg]
    """The demo console users with their random passwords: shown once, stored nowhere."""
    if not logins:
        return
    table = Table(title="Console users (passwords are shown only now)")
    for column in ("user", "role", "password"):
        table.add_column(column, no_wrap=True)
    for login in logins:
        table.add_row(login.username, login.role, login.password)
    console.print(table)
    console.print("Lost a password? Set a new one with "
                  "[bold]registratura agent passwd NAME[/bold].")


@agent_app.command("add")
def agent_add(
    name: str = typer.Argument(..., help="Login name (latin letters, digits, . _ -)."),
    role: str = typer.Option(..., "--role", help="admin, agent or observer."),
    password: str = typer.Option(None, "--password", help="Prompted for if not given."),
    full_name: str = typer.Option("", "--full-name", help="Shown in the console."),
    extension: str = typer.Option("", "--extension", help="The agent's phone extension."),
    clinic: str = typer.Option("", "--clinic",
                               help="Code of the user's clinic: sees and books for it only. "
                                    "Without it the user is regional (every clinic)."),
) -> None:
    """Create a console user."""
    from booking_core.actors import Actor
    from booking_core.agents import NewAgent, create_agent
    from booking_core.clinic_admin import clinic_id_by_code
    from booking_core.errors import DomainError
    from models.migrate import upgrade

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    container = _container()
    upgrade(container.engine)
    try:
        clinic_id = clinic_id_by_code(clinic, container.uow()) if clinic.strip() else None
        agent = create_agent(NewAgent(name, role, password, Actor.system("cli"),
                                      full_name=full_name, extension=extension,
                                      clinic_id=clinic_id), container.uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    where = f"clinic {clinic.strip()}" if clinic_id else "regional"
    console.print(f"User [bold]{agent.username}[/bold] ({agent.role}, {where}) created.")


@agent_app.command("list")
def agent_list() -> None:
    """List console users."""
    from booking_core.agents import list_agents
    from booking_core.clinic_admin import clinics
    from models.migrate import upgrade

    container = _container()
    upgrade(container.engine)
    codes = {c.id: c.code for c in clinics(container.uow())}
    table = Table(title="Console users")
    for column in ("user", "role", "clinic", "full name", "extension", "active"):
        table.add_column(column)
    for a in list_agents(container.uow()):
        clinic = codes.get(a.clinic_id, "?") if a.clinic_id else "regional"
        table.add_row(a.username, a.role, clinic, a.full_name, a.extension,
                      "yes" if a.active else "no")
    console.print(table)


@agent_app.command("passwd")
def agent_passwd(
    name: str = typer.Argument(..., help="Login name."),
    password: str = typer.Option(None, "--password", help="Prompted for if not given."),
) -> None:
    """Set a console user's password (and re-enable the account)."""
    from booking_core.actors import Actor
    from booking_core.agents import update_agent
    from booking_core.errors import DomainError

    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    container = _container()
    try:
        update_agent(name, Actor.system("cli"), container.uow(), password=password, active=True)
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Password of [bold]{name}[/bold] changed.")


@line_app.command("add")
def line_add(
    number: str = typer.Argument(..., help="The dialled number (DID / extension), e.g. "
                                 "4951230003 or +7 495 123-00-03."),
    clinic: str = typer.Option(None, "--clinic", help="Clinic code; without it the line "
                               "is regional (every clinic, the region's greeting)."),
    label: str = typer.Option("", "--label", help="A note for the admin list."),
) -> None:
    """Add a line: calls to NUMBER get that clinic's greeting (or the region's)."""
    from booking_core.actors import Actor
    from booking_core.errors import DomainError
    from booking_core.lines import AddLine, add_line
    from models.migrate import upgrade

    container = _container()
    upgrade(container.engine)
    try:
        line = add_line(AddLine(number, Actor.system("cli"),
                                clinic_code=clinic, label=label), container.uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    whose = f"clinic {line.clinic_code} ({line.clinic_name})" if line.clinic_id else "regional"
    console.print(f"Line [bold]{line.number}[/bold] added: {whose}.")


@line_app.command("remove")
def line_remove(number: str = typer.Argument(..., help="The dialled number.")) -> None:
    """Remove a line (its calls then get the unknown-number greeting)."""
    from booking_core.actors import Actor
    from booking_core.errors import DomainError
    from booking_core.lines import remove_line

    container = _container()
    try:
        remove_line(number, Actor.system("cli"), container.uow())
    except DomainError as exc:
        console.print(f"[red]{exc.code}[/red]: {exc.message}")
        raise typer.Exit(1) from None
    console.print(f"Line [bold]{number}[/bold] removed.")


@line_app.command("list")
def line_list() -> None:
    """List the lines and whose calls each takes."""
    from models.migrate import upgrade

    container = _container()
    upgrade(container.engine)
    _print_lines(container)


def _print_lines(container: Container) -> None:
    from booking_core.lines import list_lines

    table = Table(title="Lines")
    for column in ("number", "clinic", "greeting", "label"):
        table.add_column(column)
    for line in list_lines(container.uow()):
        table.add_row(line.number, line.clinic_code or "(regional)",
                      line.clinic_name or "the region's greeting", line.label)
    console.print(table)


@slots_app.command("generate")
def slots_generate(days: int = typer.Option(0, help="Window in days (default: setting).")) -> None:
    """Create missing slots for the rolling window (idempotent; run daily)."""
    container = _container()
    from booking_core.slots import generate_slots

    with _progress() as progress:
        task = progress.add_task("Generating slots", total=None)
        created = generate_slots(container.uow(), days=days or None,
                                 progress=lambda d, t: progress.update(task, completed=d, total=t))
    console.print(f"{created} new slots.")


@app.command("import")
def import_files(
    files: list[Path] = typer.Argument(..., help="XLSX and CSV files (one entity per file "
                                       "or sheet: see README, 'Importing a clinic')."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and count, change nothing."),
    skip_invalid: bool = typer.Option(False, "--skip-invalid",
                                      help="Import the valid rows; write the rejected ones to "
                                           "the error file."),
    errors: Path = typer.Option(None, "--errors", help="Where the rejected rows go "
                                "(default with --skip-invalid: import-errors.csv)."),
    lang: str = typer.Option("ru", "--lang", help="Language of the problems: ru or en."),
) -> None:
    """Import a clinic from its MIS's files: districts, specialties, doctors, schedules,
    patients.  Idempotent; a file with errors changes nothing unless --skip-invalid."""
    import getpass

    from booking_core.actors import Actor
    from clinic_import import run_import
    from models.migrate import upgrade

    container = _container()
    upgrade(container.engine)
    if errors is None and skip_invalid:
        errors = Path("import-errors.csv")
    actor = Actor.system(f"import:{getpass.getuser()}")
    with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as progress:
        task = progress.add_task("Importing", total=None)
        report = run_import(
            files, container.uow, dry_run=dry_run, skip_invalid=skip_invalid,
            error_file=errors, actor=actor,
            max_file_bytes=container.settings.import_max_file_mb * 2**20,
            policy_system=container.settings.fhir_policy_system,
            progress=lambda done, total: progress.update(task, completed=done, total=total))
    print_import_report(report, lang)
    if report.applied:
        console.print(f"[green]Imported.[/green] Changes: {report.changes}, "
                      f"new slots: {report.slots_created}.")
    elif dry_run:
        console.print("Dry run: nothing was changed.")
    else:
        console.print("[red]Nothing was changed[/red]: fix the errors above, or pass "
                      "--skip-invalid to import the valid rows.")
    if report.rejected and errors is not None and (report.applied or dry_run):
        console.print(f"Rejected rows: {errors}")
    raise typer.Exit(1 if report.errors else 0)


def print_import_report(report, lang: str = "ru") -> None:  # type: ignore[no-untyped-def]
    """The problems (file, row, column, reason) and a summary table per entity."""
    problems = report.problems
    if problems:
        table = Table(title=f"Problems ({len(problems)})")
        for column in ("file", "row", "column", "", "reason"):
            table.add_column(column)
        for p in problems[:200]:
            table.add_row(p.file, str(p.row or ""), p.column,
                          "[red]error[/red]" if p.severity == "error" else "[yellow]warn[/yellow]",
                          p.message_ru if lang == "ru" else p.message_en)
        console.print(table)
        if len(problems) > 200:
            console.print(f"... and {len(problems) - 200} more (see the error file).")
    summary = Table(title="Import")
    for column in ("entity", "created", "updated", "unchanged", "flagged", "rejected"):
        summary.add_column(column, justify="left" if column == "entity" else "right")
    for entity, c in report.entities.items():
        summary.add_row(entity, str(c.created), str(c.updated), str(c.unchanged),
                        str(c.flagged), str(c.rejected))
    console.print(summary)


CONSOLE_WORKERS_HELP = ("Console worker processes on the HTTP address (default: setting "
                        "console_workers; PostgreSQL only, SQLite keeps one).")


@app.command()
def serve(
    seed_demo: bool = typer.Option(True, help="Create the demo clinic on first run."),
    console_workers: int = typer.Option(0, "--console-workers", min=0, max=64,
                                        help=CONSOLE_WORKERS_HELP),
) -> None:
    """Run everything: web console and API, FastAGI IVR server, background upkeep."""
    from registratura.console_workers import effective_workers
    from registratura.ivr_workers import WorkersRefused, check_workers

    # With IVR worker processes beside this one, every log line says which process wrote it.
    container = _container(process_tag="serve" if load_settings().ivr_workers > 1 else "")
    try:
        check_workers(container.settings, container.settings.ivr_workers)
    except WorkersRefused as exc:
        console.print(f"[red]Not started:[/red] {exc} (REGISTRATURA_IVR_WORKERS)")
        raise typer.Exit(2) from None
    _prepare(container, seed_demo and container.settings.seed_demo_on_first_run)
    workers = effective_workers(container.settings, console_workers)
    if workers > 1:
        _serve_with_console_workers(container, workers)
    else:
        _exit_on_sigterm()
        asyncio.run(_serve(container))


@app.command("console")
def console_only(
    workers: int = typer.Option(0, "--workers", min=0, max=64, help=CONSOLE_WORKERS_HELP),
) -> None:
    """Run only the web console and API (one more console host, or more workers beside a
    separate 'registratura ivr'); the IVR and the background upkeep run elsewhere."""
    from models.migrate import upgrade
    from registratura.console_workers import effective_workers, serve_console

    container = _container()
    upgrade(container.engine)
    settings = container.settings
    container.dispose()
    count = effective_workers(settings, workers)
    if count == 1:
        console.print(f"Console and API on http://{settings.http_host}:{settings.http_port}/")
        serve_console(settings)
        return
    _run_console_workers(settings, count)


def _run_console_workers(settings: Settings, count: int,
                         on_start: Callable[[], None] | None = None) -> None:
    """Start ``count`` console workers, run ``on_start`` (the rest of ``serve``), wait for
    SIGINT/SIGTERM, stop the workers."""
    from registratura.console_workers import ConsoleWorkers, stop_requested

    stop = stop_requested()  # from here on a signal stops everything in order
    try:
        workers = ConsoleWorkers(settings, count).start()
    except OSError as exc:  # the address is taken or not ours
        console.print(f"[red]Cannot listen on {settings.http_host}:{settings.http_port}:[/red] "
                      f"{exc.strerror or exc}")
        raise typer.Exit(1) from None
    host, port = workers.address
    console.print(f"Console and API on http://{host}:{port}/ ({count} worker processes)")
    try:
        if on_start is not None:
            on_start()
        while not stop.wait(1.0):
            pass
    finally:
        workers.stop()


def _serve_with_console_workers(container: Container, count: int) -> None:
    """``serve`` with the console in ``count`` worker processes: this process keeps the IVR,
    SMS, upkeep and its own AMI link (the IVR's agent presence, reminder calls)."""
    from registratura.http_server import raise_open_files_limit
    from registratura.maintenance import Maintenance
    from registratura.telephony import start_telephony

    raise_open_files_limit()
    stoppers: list[Callable[[], None]] = []

    def start_the_rest() -> None:
        telephony = start_telephony(container)
        if telephony is not None:
            stoppers.append(telephony.stop)
        ivr_workers = container.settings.ivr_workers
        stoppers.append(_start_ivr(container, reuse_port=ivr_workers > 1).shutdown)
        extra_ivr = _start_extra_ivr_workers(ivr_workers - 1)
        if extra_ivr is not None:
            supervisor, thread = extra_ivr
            stoppers.append(lambda: (supervisor.stop(), thread.join()))
        stoppers.append(_start_sms(container, telephony).stop)
        maintenance = Maintenance(container)
        maintenance.start()
        stoppers.append(maintenance.stop)

    try:
        _run_console_workers(container.settings, count, start_the_rest)
    finally:
        for stop in reversed(stoppers):
            stop()
        container.dispose()


def _exit_on_sigterm() -> None:
    """SIGTERM stops ``serve`` as cleanly as Ctrl-C does.

    uvicorn catches SIGTERM, shuts the console down and then raises the signal again; with the
    default action the process would die right there, before ``_serve``'s clean-up stops the
    IVR worker processes, the SMS worker and the rest.  A SystemExit runs that clean-up.
    """
    import signal

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)


def _start_ivr(container: Container, reuse_port: bool = False):  # type: ignore[no-untyped-def]
    """Build the IVR, render its static prompts (progress bar), start the FastAGI server."""
    from ivr.runtime import IvrRuntime, settle_heap

    runtime = IvrRuntime(container, reuse_port=reuse_port)
    with _progress() as progress:
        task = progress.add_task("Rendering prompts", total=None)
        rendered = runtime.prerender(lambda d, t: progress.update(task, completed=d, total=t))
    console.print(f"Prompts ready ({rendered} rendered).")
    settle_heap()
    runtime.start()
    host, port = runtime.server.server_address
    console.print(f"FastAGI IVR on agi://{host}:{port}/registry "
                  f"(try a call: registratura call)")
    return runtime


async def _serve(container: Container) -> None:
    import uvicorn

    from agent_console.app import create_app
    from registratura.http_server import raise_open_files_limit, uvicorn_config
    from registratura.maintenance import Maintenance
    from registratura.telephony import start_telephony

    settings = container.settings
    raise_open_files_limit()
    # Telephony first: the IVR asks its agent presence (AMI) whom to escalate to.
    telephony = start_telephony(container)
    workers = settings.ivr_workers
    ivr = _start_ivr(container, reuse_port=workers > 1)
    container.extras["ivr_runtime"] = ivr  # the browser phone runs its calls here
    extra_ivr = _start_extra_ivr_workers(workers - 1)
    sms = _start_sms(container, telephony)
    maintenance = Maintenance(container)
    maintenance.start()
    server = uvicorn.Server(uvicorn_config(create_app(container), settings))
    console.print(f"Console and API on http://{settings.http_host}:{settings.http_port}/")
    try:
        await server.serve()
    finally:
        maintenance.stop()
        sms.stop()
        if telephony is not None:
            telephony.stop()
        if extra_ivr is not None:
            extra_ivr[0].stop()
            extra_ivr[1].join()
        ivr.shutdown()
        container.dispose()


def _start_extra_ivr_workers(count: int):  # type: ignore[no-untyped-def]
    """``serve`` with ``ivr_workers`` = N > 1: this process's IVR is worker 0; N - 1 more
    processes join it on the FastAGI port, supervised from a thread of this process."""
    import threading

    from registratura.ivr_workers import IvrSupervisor, worker_command

    if count <= 0:
        return None
    supervisor = IvrSupervisor(worker_command, count, first_index=1)
    thread = threading.Thread(target=supervisor.run, name="ivr-supervisor", daemon=True)
    thread.start()
    console.print(f"FastAGI: {count} more IVR worker processes on the same port")
    return supervisor, thread


def _start_sms(container: Container, telephony):  # type: ignore[no-untyped-def]
    """The outbox worker: sends SMS, queues reminders, dials reminder calls through AMI."""
    from booking_core.reminders import CallableDialer
    from sms.worker import OutboxWorker

    ami = getattr(telephony, "ami", None)
    dialer = (CallableDialer(ami.originate_reminder)
              if container.settings.reminder_calls and ami is not None else None)
    worker = OutboxWorker(container, dialer=dialer)
    worker.start()
    console.print(f"SMS: {container.settings.sms_provider} provider"
                  + (", reminder calls on" if dialer else ""))
    return worker


@speech_app.command("download-model")
def speech_download_model(
    lang: str = typer.Argument("ru", help="ru (vosk-model-small-ru) or en."),
    dest: str = typer.Option("var/vosk", help="Directory to put the model in."),
) -> None:
    """Download a small Vosk model (needs internet) and say how to switch speech on."""
    from pathlib import Path

    from speech.model_download import ModelDownloadError, download_model

    with _progress() as progress:
        task = progress.add_task(f"Downloading the {lang} model", total=None)
        try:
            path = download_model(lang, Path(dest), progress=lambda d, t: progress.update(
                task, completed=d, total=t or None))
        except ModelDownloadError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(1) from None
    console.print(f"Model ready in {path}. Switch speech on with:\n"
                  f"  export REGISTRATURA_VOSK_MODEL={path.resolve()}")


@app.command()
def ivr(
    workers: int = typer.Option(0, "--workers", min=0,
                                help="FastAGI worker processes sharing the port "
                                     "(SO_REUSEPORT); default: the ivr_workers setting. "
                                     "More than one needs PostgreSQL."),
) -> None:
    """Run only the FastAGI IVR server (for a host next to Asterisk)."""
    import threading

    settings = load_settings()
    count = workers or settings.ivr_workers
    if count > 1:
        raise typer.Exit(_supervise_ivr(count))
    container = _container()
    from models.migrate import upgrade

    upgrade(container.engine)
    runtime = _start_ivr(container)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        runtime.shutdown()
        container.dispose()


def _supervise_ivr(count: int) -> int:
    """``ivr --workers N``: migrate once, then supervise N worker processes on one port."""
    from models.migrate import upgrade
    from registratura.ivr_workers import (
        IvrSupervisor,
        WorkersRefused,
        check_workers,
        port_is_free,
        worker_command,
    )

    settings = load_settings()
    configure_logging(settings.log_level, process_tag="ivr")
    try:
        check_workers(settings, count)
    except WorkersRefused as exc:
        console.print(f"[red]Not started:[/red] {exc}")
        return 2
    if not port_is_free(settings.agi_host, settings.agi_port):
        console.print(f"[red]Not started:[/red] {settings.agi_host}:{settings.agi_port} is "
                      "in use (another IVR already listens there?)")
        return 2
    container = _container()
    upgrade(container.engine)
    container.dispose()  # the workers open their own pools
    supervisor = IvrSupervisor(worker_command, count)
    status = supervisor.run(on_ready=lambda: console.print(
        f"FastAGI IVR on agi://{settings.agi_host}:{settings.agi_port}/registry, "
        f"{count} worker processes (try a call: registratura call)"))
    if status:
        console.print("[red]IVR workers keep dying at start[/red]: see the log above.")
    return status


@app.command("ivr-worker", hidden=True)
def ivr_worker(
    index: int = typer.Option(0, "--index", min=0),
    ready_fd: int = typer.Option(-1, "--ready-fd"),
) -> None:
    """One FastAGI worker process, started by ``ivr --workers N`` (or ``serve``)."""
    import os
    import threading

    from ivr.runtime import IvrRuntime, settle_heap
    from registratura.ivr_workers import report_ready, wait_for_stop, worker_settings

    parent = os.getppid()
    settings = worker_settings(load_settings(), index)
    configure_logging(settings.log_level, process_tag=f"ivr-{index}")
    try:
        container = bootstrap(settings)
    except InsecureSecretKey as exc:
        logger.error("ivr worker not started: %s", exc)
        raise typer.Exit(2) from None
    from registratura.http_server import raise_open_files_limit

    raise_open_files_limit()  # two descriptors per call, agi_max_calls calls
    runtime = IvrRuntime(container, reuse_port=True)
    runtime.prerender()
    settle_heap()
    runtime.start()
    report_ready(ready_fd if ready_fd >= 0 else None)
    try:
        wait_for_stop(parent, threading.Event())
    finally:
        runtime.shutdown()
        container.dispose()


@app.command()
def call(
    keys: str = typer.Option("", help="Answers, comma-separated (e.g. '1,7700000000000123,1'); "
                             "empty item = silence; 'say:words' speaks. Without it, type "
                             "answers at the prompt (words are spoken, digits pressed)."),
    say: str = typer.Option("", help="Like --keys, but every item with letters is spoken, "
                            "e.g. 'записаться,семь семь ноль ...,да'."),
    caller: str = typer.Option("+79161234567", help="Caller number (CALLERID)."),
    host: str = typer.Option("", help="FastAGI host (default: setting)."),
    port: int = typer.Option(0, help="FastAGI port (default: setting)."),
    lang: str = typer.Option("ru", help="Channel language: ru or en."),
    dnid: str = typer.Option("", "--dnid", help="The number dialled (a line: see "
                             "'registratura line list'); sent as agi_dnid and, as the "
                             "shipped dialplan does, as the AGI argument ${REG_DID}."),
    audio_socket: bool = typer.Option(
        False, "--audio-socket", help="Streaming mode: the dialogue over AudioSocket (the IVR "
        "needs REGISTRATURA_AUDIOSOCKET_PORT). Type keys, 'say FILE.wav' or 'say words'; "
        "typing while the IVR speaks cuts it."),
) -> None:
    """A terminal phone: call the running IVR exactly as Asterisk would."""
    import io
    import sys

    from ivr.transports.terminal import AgiUnreachable, AsteriskCall, KeyboardCaller

    settings = load_settings()
    configure_logging("WARNING")
    # A DID as Asterisk passes it: "+7 (495) 123-00-03" typed by a person is +74951230003.
    dnid = "".join(ch for ch in dnid if ch.isdigit() or ch == "+")
    items = keys.split(",") if keys else []
    items += [f"say:{i.strip()}" if any(ch.isalpha() for ch in i) else i.strip()
              for i in say.split(",")] if say else []
    stdin = io.StringIO("\n".join(items) + "\n") if items else sys.stdin
    audio = None
    if audio_socket:
        from ivr.transports.terminal_audio import AudioSocketPhone

        audio = AudioSocketPhone(settings.sounds_dir, stdin, sys.stdout, scripted=bool(items),
                                 locale=lang)
    # "speech=text": this phone has no audio, so its words travel as text (the IVR then reads
    # them with the same parsers it uses for recognised speech).  With --audio-socket the
    # words are audio on the stream.
    phone = AsteriskCall(host or settings.agi_host, port or settings.agi_port,
                         script="registry?audio=stream" if audio else "registry?speech=text",
                         caller_number=caller, sounds_dir=settings.sounds_dir, language=lang,
                         dnid=dnid or "unknown", agi_args=[dnid] if dnid else (),
                         caller=KeyboardCaller(stdin, sys.stdout), audiosocket=audio)
    try:
        transcript = phone.run()
    except AgiUnreachable as exc:
        console.print(f"[red]{exc}[/red] Is 'registratura serve' (or 'registratura ivr') running?")
        raise typer.Exit(1) from None
    raise typer.Exit(0 if transcript.agistatus != "FAILURE" else 1)


def main() -> None:
    """Entry point of the ``registratura`` script."""
    app()


if __name__ == "__main__":
    main()
