"""`make bench`: every benchmark of the platform, printed as tables."""

from __future__ import annotations

from rich.console import Console

from benchmarks import audit_bench, fund_bench, platform_bench


def main() -> None:
    console = Console()
    platform_bench.run(console)
    audit_bench.run(console)
    fund_bench.run(console)


if __name__ == "__main__":
    main()
