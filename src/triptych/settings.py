"""Runtime configuration, read from ``TRIPTYCH_*`` environment variables.

Secrets (provider keys) come only from the environment or a ``.env`` file beside the data
directory; they are never written to the database or echoed in errors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from triptych.address_lists import UpstreamAllow, parse_networks

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

    # -- the catalog (docs/operators/catalog-and-admin.md) ----------------------------------
    catalog: str | None = Field(None, description=(
        "Extra catalog TOML files merged over the built-in one, in order (separated by `:` "
        "(`;` on Windows) or commas): add models behind any adapter, change a price, tier "
        "or description, or turn a model off. Check them with `triptych models check`."))
    catalog_refresh_seconds: float = Field(5.0, description=(
        "How often each process re-reads the admins' price and availability changes from "
        "the database (what pages show may be this old; a job always holds the current "
        "price)."))

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
    plans: Path | None = Field(None, description=(
        "A TOML file of plans and credit packs merged over the built-in ones "
        "(docs/operators/plans-and-payments.md)."))
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

    # -- local open-weight models (diffusers:, docs/local-models.md) ------------------------
    models_dir: Path | None = Field(None, description=(
        "Where relative `diffusers:` folders are read from; unset: `<home>/models`."))
    residency_budget_gb: str = Field("", description=(
        "GiB of loaded local models allowed per device: `24` for every device, or "
        "`cuda:0=22,cuda:1=40,cpu=16`; unset: 90% of each GPU's memory, no limit elsewhere. "
        "Loading past it evicts the least recently used idle model."))
    residency_keep_alive_seconds: float = Field(0.0, description=(
        "Unload a local model idle for this long (0: keep it until its room is needed)."))
    residency_preload: str = Field("", description=(
        "Comma-separated model ids to load when a server or worker starts (one throwaway "
        "image each), so their first job does not wait for the load."))
    resident_first_skips: int = Field(4, description=(
        "How many times a queued job for a local model that is not loaded may be passed "
        "over for jobs of models already loaded (fewer swaps); 0: strict queue order."))

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
    api_threads: int = Field(8, ge=1, description=(
        "Threads an API process runs its blocking work on (database, store, password "
        "hashing). Few: one Python process runs one thread at a time, so more threads only "
        "queue for it and every request in flight finishes later (docs/deploy.md)."))
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

    # -- payments through Stripe (docs/operators/plans-and-payments.md) --------------------
    stripe_secret_key: SecretStr | None = Field(None, description=(
        "Stripe secret key; unset (the default): payments are off and people are told to "
        "ask their administrator."))
    stripe_webhook_secret: SecretStr | None = Field(None, description=(
        "The signing secret of the Stripe webhook endpoint (`/v1/payments/stripe/webhook`)."))
    stripe_api_base: str | None = Field(None, description=(
        "Stripe API base URL (stripe-mock or a test server); unset: Stripe's own."))

    # -- the perimeter (docs/operators/perimeter.md) -----------------------------------------
    max_body_bytes: int = Field(1_048_576, gt=0, description=(
        "Largest request body accepted, in bytes, refused with 413 before authentication "
        "and while it arrives. No route takes uploads or images: the largest legitimate "
        "body (a 2,000-character prompt with its options, a payment webhook) is tens of KB, "
        "so 1 MiB leaves room without letting anyone make the server read megabytes."))
    trusted_proxies: str = Field("", description=(
        "Comma-separated addresses or CIDRs of the reverse proxies in front of Triptych; "
        "only a connection from one of them may set the client address with "
        "`X-Forwarded-For` (the right-most address no trusted proxy added). Empty: the "
        "header is ignored and the peer address is the client."))
    upstream_allow: str = Field("", description=(
        "Comma-separated hosts or CIDRs, each optionally with `:port`, that provider result "
        "downloads may reach although they are loopback, private or link-local (a "
        "self-hosted upstream); every other such address is refused."))

    # -- email and accounts (docs/operators/email-and-accounts.md) --------------------------
    smtp_url: SecretStr | None = Field(None, description=(
        "Outgoing mail server: `smtp://user:pass@host:587?starttls=required` or "
        "`smtps://user:pass@host:465`; unset: no email is sent."))
    mail_from: str = Field("Triptych <triptych@localhost>", description=(
        "The From address of the emails Triptych sends."))
    public_url: str | None = Field(None, description=(
        "This site's address as people reach it (e.g. `https://images.example.com`), used "
        "in emailed links; required with `TRIPTYCH_SMTP_URL`."))
    require_verified_email: bool | None = Field(None, description=(
        "Hold the monthly free grant until the address is verified, and sign new accounts "
        "up through an emailed link; unset: on when `TRIPTYCH_SMTP_URL` is set."))
    verify_link_hours: int = Field(48, description="How long an address verification link works.")
    reset_link_minutes: int = Field(60, description="How long a password reset link works.")
    password_min_length: int = Field(10, description=(
        "The shortest password accepted (common passwords are refused whatever their length)."))
    signup_per_address: int = Field(5, description=(
        "Sign-ups allowed per client address per sign-up window."))
    signup_per_network: int = Field(20, description=(
        "Sign-ups allowed per network (IPv4 /24, IPv6 /64) per sign-up window."))
    signup_window_minutes: int = Field(60, description="The window of the sign-up limits.")
    mail_per_address: int = Field(5, description=(
        "Account emails (reset, sign-up notices, verification) one address receives per hour."))
    low_balance_credits: int = Field(10, description=(
        "Email a user once a month when a charge leaves them fewer credits than this; 0: never."))

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

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a typo fails at start, naming the entry
        return value

    @field_validator("upstream_allow")
    @classmethod
    def _allow_list_parses(cls, value: str) -> str:
        UpstreamAllow.parse(value)
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home / 'triptych.db'}"

    @property
    def catalog_files(self) -> tuple[Path, ...]:
        if not self.catalog:
            return ()
        parts = self.catalog.replace(",", os.pathsep).split(os.pathsep)
        return tuple(Path(p.strip()).expanduser() for p in parts if p.strip())

    @property
    def shared_redis_url(self) -> str | None:
        if self.redis_url:
            return self.redis_url
        if self.broker_url and self.broker_url.startswith(("redis://", "rediss://")):
            return self.broker_url
        return None

    @property
    def resolved_models_dir(self) -> Path:
        return self.models_dir or self.home / "models"

    @property
    def preload_models(self) -> list[str]:
        return [m.strip() for m in self.residency_preload.split(",") if m.strip()]

    @property
    def verification_required(self) -> bool:
        """Whether sign-ups go through an emailed link and the monthly grant waits for it."""
        if self.require_verified_email is None:
            return self.smtp_url is not None
        return self.require_verified_email

    @property
    def image_dir(self) -> Path:
        return self.home / "images"

    @property
    def payments_on(self) -> bool:
        return self.stripe_secret_key is not None and self.stripe_webhook_secret is not None

    def provider_key(self, provider: str) -> str | None:
        secret = getattr(self, f"{provider}_api_key", None)
        return secret.get_secret_value() if secret else None

    def provider_base_url(self, provider: str) -> str:
        return getattr(self, f"{provider}_base_url").rstrip("/")
