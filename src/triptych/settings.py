"""Runtime configuration, read from ``TRIPTYCH_*`` environment variables.

Secrets (provider keys) come only from the environment or a ``.env`` file beside the data
directory; they are never written to the database or echoed in errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROVIDERS = ("bfl", "gemini", "xai", "recraft", "byteplus", "fal", "replicate", "openai")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIPTYCH_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".triptych")
    database_url: str | None = None  # default: SQLite file inside ``home``
    local_user: str = "local@localhost"  # the account the CLI acts as without --user

    free_monthly_credits: int = 50
    pro_monthly_credits: int = 500
    max_jobs_in_flight: int = 8  # per user
    # Where people buy credits (the operator's payment page); shown as "Buy credits" on the
    # credits page and in out-of-credit messages. Unset: they are told to ask an admin.
    billing_url: str | None = None
    # Who to ask for credits when there is no payment page (an email or a sentence). Unset:
    # the oldest admin account's email.
    admin_contact: str | None = None
    job_lease_seconds: int = 600  # a running job whose lease lapses is recovered
    max_attempts: int = 2  # runs of one job before recovery voids it
    workers: int = 2  # in-process executor threads
    # One thread per inference: the built-in nets are small enough that a second thread
    # gains little, and two workers (or a training run) each spinning two OpenMP threads on
    # a 2-core machine made a 0.2 s image take 15 s (measured).
    torch_threads: int = 1
    # how the built-in U-Nets and decoder run: auto (ONNX Runtime when installed), onnx,
    # torchscript or eager; the outputs agree to ~1e-5, and ONNX Runtime halves a U-Net
    # step's cost (12.9 -> 6.5 ms, benchmarks/unet_step_cost.py)
    runtime: Literal["auto", "onnx", "torchscript", "eager"] = "auto"
    # on ONNX Runtime, the latent decoder runs quantised to int8: ~49 dB from the float
    # decoder at about half its cost (diffusion/decoder_int8.py); False keeps it float
    decoder_int8: bool = True

    # -- running as a service (docs/deploy.md) ---------------------------------------------
    # Celery broker (redis://… or amqp://…). Unset: jobs run in the serving process (the
    # embedded executor). Set: `triptych serve` accepts, quotes, holds and streams, and
    # `triptych worker` processes run the models.
    broker_url: str | None = None
    # Shared state across processes (progress events, rate limits). Unset: taken from
    # ``broker_url`` when that is Redis, else kept in process memory.
    redis_url: str | None = None
    # Where images live: unset = ``home/images`` on local disk; ``s3://bucket/prefix`` for
    # S3-compatible object storage (``s3_endpoint_url`` for MinIO, Ceph, moto…; credentials
    # from the usual AWS_* variables).
    store_url: str | None = None
    s3_endpoint_url: str | None = None
    # A running job renews its lease every ``job_lease_seconds / 3``; one whose lease lapses
    # (its process died) is re-queued by the sweeper.
    sweep_interval_seconds: float = 15.0
    # A queued job nobody has taken for this long is published (or dispatched) again.
    requeue_after_seconds: float = 30.0
    # A queued job that has not started after this long fails and is refunded.
    queue_deadline_seconds: int = 3600
    # Load built-in models (one throwaway image each) when a worker or server starts, so the
    # first job does not wait for weights and runtime preparation.
    warm_up: bool = True
    # How long a request waits for a locked SQLite database before answering 503.
    sqlite_busy_seconds: float = 10.0

    # Hosted providers: TRIPTYCH_<PROVIDER>_API_KEY / TRIPTYCH_<PROVIDER>_BASE_URL.
    bfl_api_key: SecretStr | None = None
    bfl_base_url: str = "https://api.bfl.ai"
    gemini_api_key: SecretStr | None = None
    gemini_base_url: str = "https://generativelanguage.googleapis.com"
    xai_api_key: SecretStr | None = None
    xai_base_url: str = "https://api.x.ai"
    recraft_api_key: SecretStr | None = None
    recraft_base_url: str = "https://external.api.recraft.ai"
    byteplus_api_key: SecretStr | None = None
    byteplus_base_url: str = "https://ark.ap-southeast.bytepluses.com"
    fal_api_key: SecretStr | None = None
    fal_base_url: str = "https://queue.fal.run"
    replicate_api_key: SecretStr | None = None
    replicate_base_url: str = "https://api.replicate.com"
    openai_api_key: SecretStr | None = None
    openai_base_url: str = "https://api.openai.com"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'triptych.db'}"

    @property
    def shared_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def image_dir(self) -> Path:
        return self.home / "images"

    def provider_key(self, provider: str) -> str | None:
        secret = getattr(self, f"{provider}_api_key", None)
        return secret.get_secret_value() if secret else None

    def provider_base_url(self, provider: str) -> str:
        return getattr(self, f"{provider}_base_url").rstrip("/")
