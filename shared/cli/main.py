"""The `kyodo` command."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from shared.cli.audit import audit_app
from shared.settings import Settings

app = typer.Typer(
    help="Kyōdō (協働): the shared citizen-collaboration platform.", no_args_is_help=True
)
deadletters_app = typer.Typer(help="Entries that failed too often to be applied.")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(audit_app, name="audit")
console = Console()


@app.command()
def up(
    data_dir: Annotated[
        Path, typer.Option(help="Where SQLite files, Redis AOF and logs live")
    ] = Path("var"),
    demo: Annotated[bool, typer.Option(help="Load the two-ward demo data")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for readiness")] = 60.0,
) -> None:
    """Run the whole platform on the embedded default (SQLite files, embedded redis-server)."""
    from shared.cli.platform import print_endpoints, running_platform

    settings = Settings(data_dir=data_dir)
    stopped = _stop_on_signals()
    with running_platform(settings, demo=demo, timeout=timeout) as (services, redis_url):
        print_endpoints(console, services, redis_url)
        console.print(f"Endpoints written to {data_dir / 'endpoints.json'}. Press Ctrl-C to stop.")
        if demo:
            console.print("`kyodo demo` tells the two-ward story from this running platform.")
        while not stopped.wait(0.5):
            if any(s.process.poll() is not None for s in services):
                raise RuntimeError("a service exited; see the logs under var/logs")
        console.print("Stopping…")


@app.command("demo")
def demo_command(
    data_dir: Annotated[Path, typer.Option(help="The platform's data directory")] = Path("var"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the demo data")] = 180.0,
) -> None:
    """Tell the two-ward story (Japanese and English) from a running platform, or start one."""
    from shared.cli.demo import Story, endpoints, tell
    from shared.cli.platform import running_platform

    settings = Settings(data_dir=data_dir)
    if _platform_running(data_dir):
        story = Story(
            settings.model_copy(update={"redis_url": _redis_of(data_dir)}), endpoints(data_dir)
        )
        raise typer.Exit(0 if tell(story, console, timeout=timeout) else 1)
    with running_platform(settings, demo=True, timeout=timeout) as (_services, redis_url):
        story = Story(settings.model_copy(update={"redis_url": redis_url}), endpoints(data_dir))
        ok = tell(story, console, timeout=timeout)
    raise typer.Exit(0 if ok else 1)


def _platform_running(data_dir: Path) -> bool:
    import httpx

    from shared.cli.demo import endpoints

    try:
        urls = endpoints(data_dir)
        return httpx.get(f"{urls['registry']}/health/ready", timeout=2).status_code == 200
    except (OSError, KeyError, ValueError, httpx.HTTPError):
        return False


def _redis_of(data_dir: Path) -> str:
    import json

    return str(json.loads((data_dir / "endpoints.json").read_text())["redis"])


def _stop_on_signals() -> threading.Event:
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    return stopped


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="registry, proposals, fund, evaluation or audit")],
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    role: Annotated[
        str | None,
        typer.Option(
            help="all (default): the API with its relay and consumers; api: the HTTP API only; "
            "workers: the relay and consumers only, e.g. in a process of their own on another core"
        ),
    ] = None,
) -> None:
    """Run one service (as docker-compose and Kubernetes do), with its relay and consumers."""
    import uvicorn

    from shared.cli.discovery import available_services
    from shared.service import freeze_startup_heap

    if role not in (None, "all", "api", "workers"):
        raise typer.BadParameter(f"unknown role {role!r}; known: all, api, workers")
    settings = Settings() if role is None else Settings(process_role=role)
    services = available_services()
    if service not in services:
        raise typer.BadParameter(f"unknown service {service!r}; known: {', '.join(services)}")
    fastapi_app = services[service](settings)
    freeze_startup_heap()
    uvicorn.run(
        fastapi_app,
        host=host or settings.host,
        port=port or settings.ports[service],
        log_level="info",
        access_log=False,
    )


@app.command()
def token(
    ward: Annotated[str, typer.Option(help="Ward the token acts for ('*' for platform roles)")],
    role: Annotated[list[str], typer.Option(help="Role; repeat for several")],
    actor: Annotated[str | None, typer.Option(help="Registered actor the user belongs to")] = None,
    subject: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Print a development token (HS256, the configured secret)."""
    from shared.web.auth import issue_token

    typer.echo(issue_token(Settings(), ward=ward, roles=role, actor_id=actor, subject=subject))


@app.command()
def status() -> None:
    """Per stream and consumer group: length, lag, pending, dead letters."""
    from shared.cli.streams_status import print_status

    asyncio.run(print_status(Settings(), console))


@deadletters_app.command("list")
def deadletters_list(
    group: Annotated[str, typer.Argument(help="Consumer group (a service)")],
) -> None:
    """List dead-lettered entries of a consumer group with their errors."""
    from shared.cli.streams_status import print_dead_letters

    asyncio.run(print_dead_letters(Settings(), console, group))


@deadletters_app.command("redrive")
def deadletters_redrive(
    group: Annotated[str, typer.Argument(help="Consumer group (a service)")],
    entry: Annotated[list[str] | None, typer.Option(help="Only these dead-letter ids")] = None,
) -> None:
    """Send dead letters back to their streams (after the cause is fixed)."""
    from shared.cli.streams_status import redrive_dead_letters

    moved = asyncio.run(redrive_dead_letters(Settings(), group, entry))
    console.print(f"{moved} entries sent back")


@app.command()
def resend(
    service: Annotated[str, typer.Argument(help="Service whose events are published again")],
    from_position: Annotated[
        int, typer.Option("--from", help="Publish again after this position")
    ] = 0,
) -> None:
    """Make a running relay publish its events again from a position (e.g. for a new consumer
    group after the stream was trimmed). Consumers skip what they have applied."""
    from shared.cli.streams_status import request_resend

    asyncio.run(request_resend(Settings(), service, from_position))
    console.print(f"{service} will publish again after position {from_position}")


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        app()


if __name__ == "__main__":
    main()
