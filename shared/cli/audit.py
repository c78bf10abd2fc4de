"""`kyodo audit ...`: export a ward's log, verify an export, replay read models from the log."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import rich.progress
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shared.audit.errors import AuditError
from shared.audit.note import Verifier
from shared.settings import Settings

if TYPE_CHECKING:
    from shared.audit.replay import ReplayResult, Selection, SignedLog
    from shared.service import ServiceSpec

T = TypeVar("T")
Progress = Callable[[int, int], None]

audit_app = typer.Typer(
    help="The audit log: export a ward's log, verify an export, replay the read models.",
    no_args_is_help=True,
)
console = Console()

Keys = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        help="A trusted verifier key (name+id+key), e.g. from GET /v1/audit/keys; repeatable",
    ),
]


@audit_app.command("export")
def export_command(
    ward: Annotated[str, typer.Option(help="The ward whose log to export")],
    out: Annotated[Path, typer.Option(help="A new or empty directory")],
) -> None:
    """Write a ward's entries, checkpoints and verifier keys from the audit database."""
    from shared.audit.sources import export_ward

    manifest = _or_exit(lambda: export_ward(Settings(), ward, out))
    console.print(
        f"Exported {manifest.entries:,} entries and {manifest.checkpoints:,} checkpoints "
        f"of {manifest.origin} to {out}"
    )


@audit_app.command("verify")
def verify_command(
    directory: Annotated[Path, typer.Argument(help="An export directory")],
    key: Keys = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Hashing processes")] = None,
    checkpoint: Annotated[
        list[Path] | None,
        typer.Option(
            "--checkpoint",
            help="A checkpoint obtained elsewhere (its note, or the JSON of GET "
            "/v1/wards/{ward}/audit/checkpoint) that the export must reach and reproduce; "
            "repeatable",
        ),
    ] = None,
) -> None:
    """Recompute the tree, check every checkpoint's signature and their consistency."""
    from shared.audit.verify import verify_export

    trusted = _verifiers(key)
    if trusted is None:
        _warn_keys_from_export()
    with _progress("hashing entries") as advance:
        report = verify_export(
            directory,
            trusted_keys=trusted,
            progress=advance,
            workers=workers,
            pinned=checkpoint or (),
        )
    if report.problem is not None:
        problem = report.problem
        console.print(f"[bold red]✗ {problem.kind}[/]: {problem.message}")
        where = {"entry": problem.index, "event": problem.event_id, "at": problem.location}
        details = ", ".join(f"{name} {value}" for name, value in where.items() if value is not None)
        if details:
            console.print(f"  {details}")
        console.print(f"  {report.entries_verified:,} entries verified before the problem")
        raise typer.Exit(1)
    console.print(
        f"[bold green]✓ intact[/]: {report.origin}, {report.entries_verified:,} entries, "
        f"{report.checkpoints_verified:,} checkpoints, root {report.root.hex()} "
        f"({report.seconds:.2f} s)"
    )


@audit_app.command("replay")
def replay_command(
    ward: Annotated[str, typer.Option(help="The ward whose log to replay")],
    until: Annotated[
        str | None,
        typer.Option(
            help="Only events recorded by this ISO time, with its zone: 2024-04-01T00:00+09:00"
        ),
    ] = None,
    size: Annotated[int | None, typer.Option(help="Only the first N entries")] = None,
    compare: Annotated[
        bool, typer.Option("--compare", help="Compare the digests with the live read models")
    ] = False,
    export: Annotated[
        Path | None, typer.Option(help="Replay an export instead of the audit database")
    ] = None,
    into: Annotated[
        Path | None, typer.Option(help="Keep the rebuilt databases in this directory")
    ] = None,
    key: Keys = None,
    processes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Replay processes (1: in this one); default: one per CPU from 50,000 entries",
        ),
    ] = None,
) -> None:
    """Rebuild every service's read models from the audit log alone; print a digest each."""
    from shared.audit.replay import Selection
    from shared.cli.discovery import service_specs

    if until is not None and size is not None:
        raise typer.BadParameter("give --until or --size, not both")
    selection = Selection(size=size, until=_parse_time(until))
    settings = Settings()
    discovered = service_specs()
    for name, error in discovered.unavailable.items():
        console.print(f"[yellow]Service {name} cannot be loaded ({error}); not replayed.[/]")
    specs = discovered.specs
    verifiers = _verifiers(key)
    with _target(into) as target:
        result = _or_exit(
            lambda: _replay(settings, ward, export, verifiers, specs, target, selection, processes)
        )
    _print_replay(result)
    if compare and not _print_comparison(settings, specs, result):
        raise typer.Exit(1)


def _replay(
    settings: Settings,
    ward: str,
    export: Path | None,
    verifiers: list[Verifier] | None,
    specs: Mapping[str, ServiceSpec],
    target: Path,
    selection: Selection,
    processes: int | None,
) -> ReplayResult:
    from shared.audit.errors import ReplayError
    from shared.audit.export import read_verifier_keys
    from shared.audit.keys import trusted_verifiers
    from shared.audit.parallel import replay
    from shared.audit.sources import audit_engine, audit_schema, log_from_database, log_from_export
    from shared.cli.discovery import discovered_specs

    def run(log: SignedLog) -> ReplayResult:
        """In this process, or with ``--processes`` (by default one per CPU from 50,000
        entries) also in others that find the services' specs again by discovery."""
        return _run_replay(
            lambda advance: replay(
                log,
                specs,
                target,
                selection,
                advance,
                load_specs=discovered_specs,
                processes=processes,
            )
        )

    if export is not None:
        if verifiers is None:
            _warn_keys_from_export()
        log = log_from_export(export, verifiers or read_verifier_keys(export))
        if log.ward != ward:
            raise ReplayError(f"the export holds the log of {log.ward!r}, not {ward!r}")
        return run(log)
    engine = audit_engine(settings)
    try:
        keys = verifiers or trusted_verifiers(settings)
        prefix = settings.audit_origin_prefix
        return run(log_from_database(engine, ward, keys, prefix, schema=audit_schema(settings)))
    finally:
        engine.dispose()


def _run_replay(start: Callable[[Progress], Awaitable[ReplayResult]]) -> ReplayResult:
    async def run() -> ReplayResult:
        with _progress("replaying entries") as advance:
            return await start(advance)

    return asyncio.run(run())


def _print_replay(result: ReplayResult) -> None:
    table = Table(title=f"Read models of {result.ward} rebuilt from its audit log")
    for column in ("service", "read model", "rows", "SHA-256"):
        table.add_column(column)
    for service in result.services:
        for name, digest in service.digests.items():
            rows = "-" if digest is None else f"{digest.rows:,}"
            table.add_row(service.name, name, rows, digest.sha256 if digest else "missing")
    console.print(table)
    rate = result.applied / result.seconds if result.seconds else 0.0
    console.print(
        f"{result.applied:,} events applied from {result.signed_size:,} signed entries "
        f"in {result.seconds:.2f} s ({rate:,.0f} events/s); the signed root was reproduced"
    )


def _print_comparison(
    settings: Settings, specs: Mapping[str, ServiceSpec], result: ReplayResult
) -> bool:
    """Print replayed against live digests; True when every read model matches."""
    from shared.audit.live import compare, live_read_models

    table = Table(title="Replayed against live read models")
    for column in ("service", "read model", "replayed rows", "live rows", "result"):
        table.add_column(column)
    all_match = True
    for service in result.services:
        live = live_read_models(settings, specs[service.name], result.ward)
        if live is None:
            console.print(f"[yellow]{service.name}: no live database here; not compared[/]")
            continue
        if live.positions != service.positions:
            console.print(
                f"[yellow]{service.name}: live read models are at positions {live.positions}, "
                f"the replay at {service.positions}; their digests may differ for that reason[/]"
            )
        for row in compare(service, live):
            all_match &= row.matches
            live_rows = "missing" if row.live is None else f"{row.live.rows:,}"
            replayed_rows = "missing" if row.replayed is None else f"{row.replayed.rows:,}"
            verdict = "[green]match[/]" if row.matches else "[bold red]DIFFERS[/]"
            table.add_row(row.service, row.table, replayed_rows, live_rows, verdict)
    console.print(table)
    return all_match


def _parse_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"--until {text!r} is not an ISO 8601 time") from error
    if moment.tzinfo is None:
        raise typer.BadParameter(
            f"--until {text!r} has no time zone: add one, e.g. +09:00 for Japan or Z for UTC"
        )
    return moment


def _verifiers(keys: list[str] | None) -> list[Verifier] | None:
    if not keys:
        return None
    try:
        return [Verifier.from_key_string(key) for key in keys]
    except AuditError as error:
        raise typer.BadParameter(f"--key: {error}") from error


def _warn_keys_from_export() -> None:
    console.print(
        "[yellow]Trusting the keys in the export itself: pass --key with the log's published "
        "verifier key to prove who signed it.[/]"
    )


@contextmanager
def _target(into: Path | None) -> Iterator[Path]:
    if into is not None:
        yield into
        return
    with tempfile.TemporaryDirectory(prefix="kyodo-replay-") as scratch:
        yield Path(scratch)


@contextmanager
def _progress(description: str) -> Iterator[Progress]:
    columns = (
        rich.progress.TextColumn("{task.description}"),
        rich.progress.BarColumn(),
        rich.progress.MofNCompleteColumn(),
        rich.progress.TimeRemainingColumn(),
    )
    with rich.progress.Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(description, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def _or_exit(action: Callable[[], T]) -> T:
    try:
        return action()
    except AuditError as error:
        console.print(f"[bold red]✗[/] {escape(str(error))}", soft_wrap=True)
        raise typer.Exit(1) from error
