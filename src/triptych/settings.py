"""Runtime configuration, read from ``TRIPTYCH_*`` environment variables.

Secrets (provider keys) come only from the environment or a ``.env`` file beside the data
directory; they are never written to the database or echoed in errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROVIDERS = ("bfl", "gemini", "xai", "recraft", "byteplus", "fal", "replicate", "openai")


def _key(provider: str) -> Any:
    return Field(None, description=f"{provider} API key.")


def _url(provider: str, default: str) -> Any:
    return Field(default, description=f"{provider} API base URL.")


class Settings(BaseSettings):
    """Every setting, from ``TRIPTYCH_<NAME>`` (or a ``.env`` file). The README's table is
    generated from these fields and their descriptions (``scripts/settings_table.py``)."""

    model_config = SettingsConfigDict(env_prefix="TRIPTYCH_", env_file=".env", extra="ignore")

    # -- where things are -------------------------------------------------------------------
    home: Path = Field(default_factory=lambda: Path.home() / ".triptych", description=(
        "Data directory: the SQLite database, the image store and the web secret."))
    database_url: str | None = Field(None, description=(
        "SQLAlchemy URL, e.g. `postgresql+psycopg://user@host/db`; unset: SQLite in the "
        "data directory."))
    local_user: str = Field("local@localhost", description=(
        "The account the CLI acts as without `--user`."))

    # -- credits and jobs -------------------------------------------------------------------
    free_monthly_credits: int = Field(50, description="Credits a free account gets each month.")
    pro_monthly_credits: int = Field(500, description="Credits a pro account gets each month.")
    max_jobs_in_flight: int = Field(8, description="Per-user cap on queued + running jobs.")
    billing_url: str | None = Field(None, description=(
        "The operator's page where people buy credits, linked as \"Buy credits\"; unset: "
        "they are told to ask an administrator."))
    admin_contact: str | None = Field(None, description=(
        "Who to ask for credits when there is no billing page (an email or a sentence); "
        "unset: the oldest admin account's email."))
    job_lease_seconds: int = Field(600, description=(
        "How long a running job's claim lasts; its process renews it every third of this, "
        "and a job whose claim runs out (its process died) is recovered."))
    max_attempts: int = Field(2, description=(
        "Runs of one built-in job before recovery fails and refunds it."))
    workers: int = Field(2, description=(
        "Threads of the in-process executor (no broker); at least `batch_max` while batching "
        "is on, so a full batch of jobs can run at once."))

    # -- built-in models --------------------------------------------------------------------
    # One thread per inference: the built-in nets are small enough that a second thread
    # gains little, and two workers each spinning two OpenMP threads on a 2-core machine
    # slow each other down many times over.
    torch_threads: int = Field(1, description=(
        "CPU threads per built-in model inference (and per training run)."))
    runtime: Literal["auto", "onnx", "torchscript", "eager"] = Field("auto", description=(
        "How the built-in U-Nets and decoder run: `auto` (ONNX Runtime when installed), "
        "`onnx`, `torchscript` or `eager`; the outputs agree to about 1e-5."))
    decoder_int8: bool = Field(True, description=(
        "On ONNX Runtime, run the latent decoder quantised to int8 (about half the cost)."))
    builtin_weights: Path | None = Field(None, description=(
        "Load built-in model weights from this directory instead of the package's."))
    emoji_font: Path | None = Field(None, description=(
        "The Noto Color Emoji font the built-in world draws with; unset: the system's."))
    batching: bool = Field(True, description=(
        "Run concurrent requests for the same model and settings as one batch "
        "(docs/builtin-models.md, Batching)."))
    batch_window_ms: float = Field(2.0, description=(
        "How long a request that finds its model idle waits for others to batch with; "
        "under load batches form while the previous one runs, without this wait."))
    batch_max: int = Field(8, description="Most requests in one batch.")
    warm_up: bool = Field(True, description=(
        "Load the built-in models (one throwaway image each) when a server or worker "
        "starts, so the first image is as fast as the second."))

    # -- running as a service (docs/deploy.md) ----------------------------------------------
    broker_url: str | None = Field(None, description=(
        "Celery broker (`redis://…` or `amqp://…`). Unset: models run in the serving process. "
        "Set: `triptych serve` accepts and streams, `triptych worker` runs the models."))
    redis_url: str | None = Field(None, description=(
        "Redis for state shared across processes (progress, rate limits); unset: the broker "
        "when it is Redis, else process memory."))
    store_url: str | None = Field(None, description=(
        "Where images live: unset = `<home>/images`; `s3://bucket/prefix` for S3-compatible "
        "storage (credentials from the usual `AWS_*` variables)."))
    s3_endpoint_url: str | None = Field(None, description=(
        "The S3 endpoint for MinIO, Ceph and other S3-compatible stores."))
    sweep_interval_seconds: float = Field(15.0, description=(
        "How often the sweeper re-publishes stalled jobs and recovers lost ones."))
    requeue_after_seconds: float = Field(30.0, description=(
        "A queued job nobody has taken for this long is dispatched again."))
    queue_deadline_seconds: int = Field(3600, description=(
        "A queued job that has not started after this long fails and is refunded."))
    sqlite_busy_seconds: float = Field(10.0, description=(
        "How long a request waits for a locked SQLite database before answering 503."))

    # -- the web server ---------------------------------------------------------------------
    web_secret: SecretStr | None = Field(None, description=(
        "Signs the pre-login CSRF cookies; unset: generated once and kept in "
        "`<home>/web-secret`."))
    secure_cookies: bool = Field(False, description=(
        "Mark cookies Secure (set it when the site is served over HTTPS)."))
    session_days: int = Field(14, description="How long a browser sign-in lasts.")
    rate_per_minute: float = Field(120.0, description=(
        "Requests per minute per API key or signed-in user (token bucket)."))
    rate_burst: int = Field(60, description="Requests allowed at once above the rate.")
    auth_per_minute: float = Field(20.0, description=(
        "Sign-up and log-in attempts per minute per client address."))
    auth_burst: int = Field(10, description="Sign-up and log-in attempts allowed at once.")
    openai_wait_seconds: float = Field(300.0, description=(
        "How long the OpenAI-compatible endpoint waits for images before answering."))
    password_time_cost: int = Field(3, description="Argon2id passes per password hash.")
    password_memory_kib: int = Field(65536, description="Argon2id memory per hash, in KiB.")
    password_parallelism: int = Field(4, description="Argon2id lanes per hash.")
    metrics_token: SecretStr | None = Field(None, description=(
        "When set, `/metrics` answers only `Authorization: Bearer <token>`."))

    # -- hosted providers: TRIPTYCH_<PROVIDER>_API_KEY / TRIPTYCH_<PROVIDER>_BASE_URL --------
    bfl_api_key: SecretStr | None = _key("Black Forest Labs (Flux)")
    bfl_base_url: str = _url("Black Forest Labs (Flux)", "https://api.bfl.ai")
    gemini_api_key: SecretStr | None = _key("Google Gemini (Nano Banana)")
    gemini_base_url: str = _url("Google Gemini (Nano Banana)", "https://generativelanguage.googleapis.com")
    xai_api_key: SecretStr | None = _key("xAI (Grok Imagine)")
    xai_base_url: str = _url("xAI (Grok Imagine)", "https://api.x.ai")
    recraft_api_key: SecretStr | None = _key("Recraft")
    recraft_base_url: str = _url("Recraft", "https://external.api.recraft.ai")
    byteplus_api_key: SecretStr | None = _key("BytePlus ModelArk (Seedream)")
    byteplus_base_url: str = _url("BytePlus ModelArk (Seedream)", "https://ark.ap-southeast.bytepluses.com")
    fal_api_key: SecretStr | None = _key("fal.ai")
    fal_base_url: str = _url("fal.ai", "https://queue.fal.run")
    replicate_api_key: SecretStr | None = _key("Replicate")
    replicate_base_url: str = _url("Replicate", "https://api.replicate.com")
    openai_api_key: SecretStr | None = _key("OpenAI")
    openai_base_url: str = _url("OpenAI", "https://api.openai.com")

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
