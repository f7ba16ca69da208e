"""Every setting of the service, read from `IDC_*` environment variables (or `.env`).

The defaults are the embedded mode: one SQLite file, local files and a SQLite Celery broker under
`IDC_DATA_DIR`, so that nothing but Python is needed to run it. Compose sets Postgres, Redis and S3.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SECRET = "changethis"
GiB = 1024**3
MiB = 1024**2


class Settings(BaseSettings):
    """The service's settings; README.md has the table that documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="IDC_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,  # `IDC_X=` in .env means "the default"
        extra="ignore",
    )

    environment: Literal["development", "production"] = Field(
        "development", description="production refuses default secrets"
    )
    secret_key: str = Field(DEFAULT_SECRET, description="signs local download URLs")
    data_dir: Path = Field(Path("var/idc"), description="root of the embedded-mode files")
    database_url: str = Field("", description="SQLAlchemy URL; empty = SQLite in data_dir")
    broker_url: str = Field("", description="Celery broker URL; empty = SQLite broker in data_dir")
    queue: str = Field("idc", description="Celery queue the API sends to and workers read")
    api_host: str = Field("127.0.0.1", description="address `idc-service serve` binds")
    api_port: int = Field(8000, description="port `idc-service serve` binds")
    api_workers: int = Field(
        1, ge=1, le=64, description="API processes `idc-service serve` runs (uvicorn workers)"
    )
    public_base_url: str = Field(
        "", description="base URL clients reach the API at; empty = http://api_host:api_port"
    )

    db_pool_size: int = Field(
        20, ge=1, le=1000, description="database connections of the API: requests served at once"
    )
    db_wait_s: float = Field(
        10.0, gt=0, le=300, description="a request waits this long for one, then answers 503"
    )

    storage_backend: Literal["local", "s3"] = Field("local", description="where files live")
    storage_dir: Path | None = Field(
        None, description="local backend root; empty = data_dir/storage"
    )
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint the service talks to")
    s3_public_endpoint_url: str | None = Field(
        None, description="S3 endpoint put in download URLs; empty = s3_endpoint_url"
    )
    s3_bucket: str = Field("idc", description="bucket holding every object of the service")
    s3_access_key_id: str | None = Field(None, description="S3 access key")
    s3_secret_access_key: str | None = Field(None, description="S3 secret key")
    s3_region: str = Field("us-east-1", description="S3 region used for signing")
    storage_retry_s: float = Field(
        60.0, ge=0, le=3600, description="S3 operations retry transient errors for this long"
    )
    s3_create_bucket: bool = Field(False, description="create the bucket at start if missing")
    download_url_ttl_s: int = Field(3600, ge=1, le=7 * 24 * 3600, description="signed URL life")

    upload_max_bytes: int = Field(16 * GiB, ge=1, description="largest dataset archive")
    upload_max_images: int = Field(20000, ge=1, description="most images in one archive")
    image_max_pixels: int = Field(64_000_000, ge=1, description="largest image (width x height)")
    image_max_bytes: int = Field(256 * MiB, ge=1, description="largest image file")
    archive_max_ratio: float = Field(
        100.0, gt=1, description="largest uncompressed/compressed size ratio (bomb guard)"
    )
    upload_threads: int = Field(
        4, ge=1, le=64, description="threads checking and storing the images of one upload"
    )
    upload_buffer_bytes: int = Field(
        64 * MiB,
        ge=MiB,
        description="images read from archives and waiting to be stored, all uploads together",
    )
    json_max_bytes: int = Field(
        1 * MiB, ge=1024, description="largest body of a JSON request (POST /condense and others)"
    )
    teacher_max_bytes: int = Field(2 * GiB, ge=1, description="largest teacher checkpoint")

    shard_size: int = Field(
        8, ge=1, description="images per shard task (IDC runs; a GPU condenses 8 at once)"
    )
    task_max_attempts: int = Field(
        3, ge=1, description="runs of a step (prepare, shard, assemble) lost before the job fails"
    )
    worker_stale_s: float = Field(
        45.0, gt=0, le=3600, description="a task or worker silent this long is taken for dead"
    )
    heartbeat_interval_s: float = Field(
        10.0, gt=0, le=600, description="how often tasks and workers write their heartbeat"
    )
    task_soft_time_limit_s: int = Field(6 * 3600, ge=1, description="a task past this fails")
    task_time_limit_s: int = Field(6 * 3600 + 300, ge=1, description="a task past this is killed")
    broker_visibility_timeout_s: int = Field(
        6 * 3600 + 900, ge=1, description="unacked tasks return to the queue after this (Redis)"
    )
    work_dir: Path | None = Field(None, description="worker scratch space; empty = data_dir/work")
    device: str = Field("auto", description="worker device: auto, cpu, cuda or cuda:N")
    worker_gpus: str = Field(
        "", description="comma-separated GPU ids, one prefork child each (CUDA_VISIBLE_DEVICES)"
    )
    progress_interval_s: float = Field(1.0, gt=0, description="least time between DB progress")
    unfinished_retention_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        description="files of a failed or cancelled job are kept this long for a retry",
    )
    owner_max_active_jobs: int = Field(
        4, ge=1, description="jobs one owner may have queued or running at once (else 429)"
    )
    owner_max_stored_bytes: int = Field(
        50 * GiB, ge=1, description="bytes one owner may store: datasets, teachers, results"
    )
    log_level: str = Field("INFO", description="log level of API and worker")

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.secret_key == DEFAULT_SECRET:
            message = "IDC_SECRET_KEY is the default; set a long random value"
            if self.environment != "development":
                raise ValueError(message)
            logging.getLogger(__name__).warning(message)
        if self.environment != "development" and len(self.secret_key) < 32:
            raise ValueError("IDC_SECRET_KEY must be at least 32 characters in production")
        if not self.task_soft_time_limit_s < self.task_time_limit_s:
            raise ValueError("IDC_TASK_SOFT_TIME_LIMIT_S must be below IDC_TASK_TIME_LIMIT_S")
        if not 2 * self.heartbeat_interval_s <= self.worker_stale_s:
            raise ValueError(
                "IDC_HEARTBEAT_INTERVAL_S must be at most half of IDC_WORKER_STALE_S, or one late "
                "heartbeat hands a live task to another worker"
            )
        if not self.task_time_limit_s < self.broker_visibility_timeout_s:
            raise ValueError(
                "IDC_BROKER_VISIBILITY_TIMEOUT_S must exceed IDC_TASK_TIME_LIMIT_S, or Redis "
                "hands a still-running task to a second worker"
            )
        return self

    def ensure_local_dirs(self) -> None:
        """Create the folders that SQLite files, the SQLite broker and local storage live in."""
        for url in (self.sqlalchemy_url, self.celery_broker_url):
            if "sqlite:///" in url:
                Path(url.split("sqlite:///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        if self.storage_backend == "local":
            self.local_storage_dir.mkdir(parents=True, exist_ok=True)

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'idc.db').resolve()}"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{(self.data_dir / 'broker.db').resolve()}"

    @property
    def local_storage_dir(self) -> Path:
        return (self.storage_dir or self.data_dir / "storage").resolve()

    @property
    def worker_dir(self) -> Path:
        return (self.work_dir or self.data_dir / "work").resolve()

    @property
    def base_url(self) -> str:
        return (self.public_base_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()
