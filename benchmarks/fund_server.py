"""The fund app under uvicorn in its own process, on a given PostgreSQL schema (for fund_bench).

Usage: python -m benchmarks.fund_server PORT POSTGRES_URL SCHEMA REDIS_URL STREAM_PREFIX DATA_DIR ROLE

ROLE is the process role (all, api or workers), as ``kyodo serve fund --role``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

from services.fund.app import bootstrap
from shared.db import Database
from shared.eventstore.store import EventStore
from shared.service import freeze_startup_heap
from shared.settings import Settings


def main(
    port: str, url: str, schema: str, redis_url: str, prefix: str, data_dir: str, role: str
) -> None:
    settings = Settings(
        redis_url=redis_url, stream_prefix=prefix, data_dir=Path(data_dir), process_role=role
    )
    app = bootstrap(settings, store=EventStore(Database(url, schema=schema)))
    freeze_startup_heap()
    uvicorn.run(
        app, host="127.0.0.1", port=int(port), log_level="warning", access_log=False, lifespan="on"
    )


if __name__ == "__main__":
    main(*sys.argv[1:8])
