"""Platform settings, read from the environment (prefix ``KYODO_``) only inside bootstrap code."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SERVICE_PORTS: dict[str, int] = {
    "registry": 8101,
    "proposals": 8102,
    "fund": 8103,
    "evaluation": 8104,
    "audit": 8105,
}

DEV_JWT_SECRET = "kyodo-development-secret-change-me-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KYODO_", env_nested_delimiter="__")

    data_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; a PostgreSQL URL gives each service its own schema. "
        "Unset: one SQLite file per service under data_dir.",
    )
    redis_url: str = "redis://127.0.0.1:6379/0"
    stream_prefix: str = "kyodo"
    partitions: int = Field(default=8, ge=1, le=1024)

    process_role: Literal["all", "api", "workers"] = Field(
        default="all",
        description="all: the HTTP API with the relay and consumers in one process; api: the "
        "HTTP API only; workers: the relay and consumers only (with the health routes).",
    )
    relay_batch: int = Field(default=1000, ge=1, le=10_000)
    relay_idle_sleep: float = 0.005
    relay_notified_poll: float = Field(default=1.0, gt=0)
    """How often an idle relay told of appends (PostgreSQL's LISTEN) still reads its table."""
    consumer_batch: int = Field(default=500, ge=1, le=10_000)
    consumer_block_ms: int = Field(default=200, ge=1)
    claim_idle_ms: int = Field(default=30_000, ge=1)
    max_deliveries: int = Field(default=5, ge=1)
    stream_trim_interval: float = Field(
        default=300.0,
        ge=0,
        description="Seconds between trims of what every group acknowledged; 0 keeps everything.",
    )

    jwt_algorithm: str = "HS256"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwks_url: str | None = None
    jwt_issuer: str = "kyodo"
    jwt_audience: str = "kyodo"

    audit_signing_key: SecretStr | None = Field(
        default=None,
        description="C2SP signer key (PRIVATE+KEY+name+id+key) that signs audit checkpoints. "
        "Unset: one is generated on first start and kept in data_dir/audit-signing.key.",
    )
    audit_trusted_keys: list[str] = Field(
        default_factory=list,
        description="Verifier keys (name+id+key) of earlier signing keys whose checkpoints "
        "are still trusted after a rotation.",
    )
    audit_origin_prefix: str = Field(
        default="kyodo.example/audit",
        pattern=r"^[^\s+]+$",
        description="Log origins are this prefix followed by /<ward>.",
    )

    demo_data: bool = False
    otlp_endpoint: str | None = None
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    host: str = "127.0.0.1"
    ports: dict[str, int] = Field(default_factory=lambda: dict(SERVICE_PORTS))

    def database_url_for(self, service: str) -> str:
        """Each service owns its data: its own SQLite file, or its own PostgreSQL schema."""
        if self.database_url is None:
            path = (self.data_dir / f"{service}.sqlite3").resolve()
            return f"sqlite+aiosqlite:///{path}"
        return self.database_url

    def schema_for(self, service: str) -> str | None:
        if self.database_url and self.database_url.startswith("postgresql"):
            return service
        return None
