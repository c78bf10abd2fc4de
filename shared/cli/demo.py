"""`kyodo demo`: the two-ward story told from a running platform, in Japanese and English.

Every service loads its own demo data when the platform runs with demo data (`kyodo up` does);
this command waits until that data has travelled through the streams, then reads it back over
HTTP as the ward's staff, finance and auditors would, verifies an audit export and compares a
replay of the audit log with the live read models.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from shared.settings import Settings
from shared.web.auth import PLATFORM_WARD, issue_token

WARDS = ("nerima", "ota")


@dataclass
class Story:
    settings: Settings
    urls: dict[str, str]
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    failures: list[str] = field(default_factory=list)

    def get(self, service: str, path: str, *, ward: str, role: str | None = None) -> Any:
        headers = {}
        if role is not None:
            token_ward = PLATFORM_WARD if role == "platform_auditor" else ward
            roles = ["auditor"] if role == "platform_auditor" else [role]
            headers["Authorization"] = (
                f"Bearer {issue_token(self.settings, ward=token_ward, roles=roles)}"
            )
        response = self.client.get(f"{self.urls[service]}{path}", headers=headers)
        response.raise_for_status()
        return response.json()

    def has(self, service: str) -> bool:
        return service in self.urls


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    return False


def items(document: Any) -> list[Any]:
    return list(document["items"]) if isinstance(document, dict) else list(document)


def tell(story: Story, console: Console, *, timeout: float = 120.0) -> bool:
    """Print the story; True when every check in it held."""
    _wait_for_demo_data(story, timeout)
    console.print(Panel.fit("協働プラットフォーム Kyōdō — 練馬区・大田区のデモ / two-ward demo"))
    for ward in WARDS:
        _tell_ward(story, console, ward)
    if story.has("audit"):
        _tell_audit(story, console)
    for failure in story.failures:
        console.print(f"[bold red]✗ {failure}[/]")
    if not story.failures:
        console.print("[bold green]✓ すべての確認に合格 / every check passed[/]")
    return not story.failures


def _wait_for_demo_data(story: Story, timeout: float) -> None:
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("registry actors", lambda: all(_actors(story, w)["total"] > 0 for w in WARDS)),
    ]
    if story.has("proposals"):
        checks.append(("started projects", lambda: all(_projects(story, w) for w in WARDS)))
    if story.has("fund"):
        checks.append(("fund grants", lambda: all(_grants(story, w) for w in WARDS)))
    if story.has("evaluation"):
        checks.append(("concluded evaluations", lambda: all(_rounds(story, w) for w in WARDS)))
    for name, condition in checks:
        if not wait_until(condition, timeout):
            story.failures.append(f"demo data did not arrive in time: {name}")


def _actors(story: Story, ward: str) -> Any:
    return story.get("registry", f"/v1/wards/{ward}/actors?limit=100", ward=ward, role="staff")


def _projects(story: Story, ward: str) -> list[Any]:
    return items(story.get("proposals", f"/v1/wards/{ward}/projects", ward=ward))


def _grants(story: Story, ward: str) -> list[Any]:
    return items(story.get("fund", f"/v1/wards/{ward}/grants", ward=ward, role="finance"))


def _rounds(story: Story, ward: str) -> list[Any]:
    rounds = items(story.get("evaluation", f"/v1/wards/{ward}/evaluations", ward=ward))
    return [r for r in rounds if r.get("status") == "concluded"]


def _tell_ward(story: Story, console: Console, ward: str) -> None:
    wards = {w["ward"]: w for w in story.get("registry", "/v1/wards", ward=ward)}
    name = wards[ward]["name"]
    table = Table(title=f"{name['ja']} / {name['en']} (policy v{wards[ward]['policy_version']})")
    table.add_column("項目 / item")
    table.add_column("内容 / what the platform holds")
    actors = items(_actors(story, ward))
    verified = [a for a in actors if a.get("status") == "active"]
    table.add_row(
        "活動主体 / actors", f"{len(actors)} registered, {len(verified)} verified and active"
    )
    if story.has("proposals"):
        _proposal_rows(story, table, ward)
    if story.has("fund"):
        _fund_rows(story, table, ward)
    if story.has("evaluation"):
        _evaluation_rows(story, table, ward)
    console.print(table)


def _proposal_rows(story: Story, table: Table, ward: str) -> None:
    proposals = items(
        story.get("proposals", f"/v1/wards/{ward}/proposals?limit=100", ward=ward, role="staff")
    )
    statuses: dict[str, int] = {}
    for proposal in proposals:
        statuses[proposal["status"]] = statuses.get(proposal["status"], 0) + 1
    table.add_row("提案 / proposals", ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    counted = recused = 0
    for proposal in proposals:
        if proposal["status"] in {"draft", "ineligible", "withdrawn"}:
            continue
        reviews = story.get(
            "proposals",
            f"/v1/wards/{ward}/proposals/{proposal['proposal_id']}/reviews",
            ward=ward,
            role="staff",
        )
        counted += int(reviews["counted_reviews"])
        recused += len(reviews["recusals"])
    table.add_row(
        "審査 / screening", f"{counted} counted reviews, {recused} reviewer(s) recused (利益相反)"
    )
    for project in _projects(story, ward):
        table.add_row(
            "協働事業 / project",
            f"{project['title']} — form {project['form']}, domain {project['domain']}, "
            f"{len(project['parties'])} parties signed",
        )


def _fund_rows(story: Story, table: Table, ward: str) -> None:
    donations = items(
        story.get("fund", f"/v1/wards/{ward}/donations?limit=100", ward=ward, role="finance")
    )
    kinds: dict[str, int] = {}
    for donation in donations:
        kind = str(donation.get("designation", {}).get("kind", "?"))
        kinds[kind] = kinds.get(kind, 0) + int(donation.get("amount_yen", 0))
    table.add_row(
        "寄附 / donations",
        f"{len(donations)} — " + ", ".join(f"{k}: ¥{v:,}" for k, v in sorted(kinds.items())),
    )
    for grant in _grants(story, ward):
        lineage = story.get(
            "fund",
            f"/v1/wards/{ward}/grants/{grant['grant_id']}/lineage",
            ward=ward,
            role="finance",
        )
        balances = grant["balances"]
        donations_used = {line["donation_id"] for line in lineage["lines"]}
        by_designation = ", ".join(f"{k} ¥{v:,}" for k, v in lineage["by_designation"].items())
        table.add_row(
            "助成 / grant",
            f"{grant['title']}: ¥{balances['amount_yen']:,} from {len(donations_used)} "
            f"donation(s) ({by_designation}); "
            f"paid ¥{balances['paid']:,} in {balances['tranches']} tranche(s), "
            f"returned ¥{balances['returned']:,}",
        )
    reconciliation = story.get(
        "fund", f"/v1/wards/{ward}/fund/reconciliation", ward=ward, role="finance"
    )
    exact = bool(reconciliation["exact"])
    table.add_row("照合 / reconciliation", "一致 / exact" if exact else "不一致 / DIFFERS")
    if not exact:
        story.failures.append(f"{ward}: the fund's reconciliation differs")


def _evaluation_rows(story: Story, table: Table, ward: str) -> None:
    for round_ in _rounds(story, ward):
        table.add_row(
            "評価 / evaluation", f"concluded: {round_.get('conclusion')} (both sides reflected)"
        )
    portfolio = story.get("evaluation", f"/v1/wards/{ward}/insights/portfolio", ward=ward)
    shares = ", ".join(
        f"{row['domain']} {row['share_percent']}%"
        + (f" (2008: {row['baseline_percent']}%)" if row.get("baseline_percent") else "")
        for row in portfolio["by_domain"]
    )
    table.add_row("領域の割合 / domain shares", f"FY{portfolio['fiscal_year']}: {shares}")


def _tell_audit(story: Story, console: Console) -> None:
    for ward in WARDS:
        checkpoint = story.get("audit", f"/v1/wards/{ward}/audit/checkpoint", ward=ward)
        size = checkpoint.get("tree_size", checkpoint.get("size"))
        console.print(f"監査ログ / audit log {ward}: {size} entries under a signed checkpoint")
        export_dir = story.settings.data_dir / "demo-audit" / ward
        if export_dir.exists():
            import shutil

            shutil.rmtree(export_dir)
        for args, what in (
            (["export", "--ward", ward, "--out", str(export_dir)], "export"),
            (["verify", str(export_dir)], "verify"),
            (["replay", "--ward", ward, "--compare"], "replay --compare"),
        ):
            ok = _kyodo_audit(story.settings, args)
            console.print(f"  {'✓' if ok else '✗'} kyodo audit {what}")
            if not ok:
                story.failures.append(f"{ward}: kyodo audit {what} failed")


def _kyodo_audit(settings: Settings, args: list[str]) -> bool:
    command = [sys.executable, "-m", "shared.cli.main", "audit", *args]
    environment = {
        "KYODO_DATA_DIR": str(settings.data_dir.resolve()),
        "KYODO_REDIS_URL": settings.redis_url,
    }
    import os

    result = subprocess.run(
        command, env={**os.environ, **environment}, capture_output=True, check=False
    )
    return result.returncode == 0


def endpoints(data_dir: Path) -> dict[str, str]:
    import json

    document = json.loads((data_dir / "endpoints.json").read_text())
    return {name: entry["url"] for name, entry in document["services"].items()}
