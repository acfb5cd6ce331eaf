"""Request and response bodies. Create/Update schemas hold only what a caller may set
(``extra="forbid"``: nobody can mass-assign ``credits``, ``role`` or ``plan``); Public schemas
hold only what a caller may see (never a filesystem path, hash or secret)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from triptych.service.password_policy import MAX_PASSWORD
from triptych.service.requests import MAX_PROMPT_CHARS

SEED_MAX = 2**31 - 1
Prompt = Field(min_length=1, max_length=MAX_PROMPT_CHARS,
               description=f"What to draw (1 to {MAX_PROMPT_CHARS} characters).")


class Create(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- errors -----------------------------------------------------------------------------------

class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    code: str = Field(description="Machine-readable: insufficient_credits, moderation_blocked, "
                      "invalid_request, rate_limited, not_found, unauthorized, forbidden, …")
    message: str = Field(description="What happened and what to do next.")
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail


# -- accounts ---------------------------------------------------------------------------------

class SignupCreate(Create):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD, description=(
        "At least TRIPTYCH_PASSWORD_MIN_LENGTH characters, and not a common password."))


class SignupPending(BaseModel):
    status: Literal["check_email"] = "check_email"
    message: str = Field(description="Where the sign-up continues (the emailed link).")


class Notice(BaseModel):
    message: str


class VerifyRequest(Create):
    token: str = Field(min_length=1, max_length=100, description="From the emailed link.")


class ForgotRequest(Create):
    email: str = Field(min_length=1, max_length=320)


class ResetRequest(Create):
    token: str = Field(min_length=1, max_length=100, description="From the emailed link.")
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class LoginRequest(Create):
    email: str = Field(min_length=1, max_length=320)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD)


class UserPublic(BaseModel):
    id: int
    email: str
    role: Literal["user", "admin"]
    plan: str
    unrestricted_opt_in: bool
    email_verified: bool = Field(description="Whether the owner has confirmed the address.")
    created_at: str


class AuthResult(BaseModel):
    user: UserPublic
    csrf_token: str = Field(description="Send as X-CSRF-Token on cookie-authenticated writes.")


class AccountUpdate(Create):
    unrestricted_opt_in: bool


class KeyCreate(Create):
    name: str = Field(default="", max_length=100)
    monthly_cap: int | None = Field(
        default=None, ge=1, le=10_000_000,
        description="The most credits the key may spend (held or charged) per calendar month "
                    "(UTC); unset: no cap. A request past it answers 402 spend_cap_reached.")


class KeyPublic(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    monthly_cap: int | None = Field(default=None, description="Credits per month; null: no cap.")


class KeyCreated(KeyPublic):
    key: str = Field(description="The secret. Shown this once; store it now.")


# -- generation -------------------------------------------------------------------------------

class GenerationCreate(Create):
    prompt: str = Prompt
    model: str | None = Field(default=None, max_length=100,
                              description="A catalog id; default: the instant built-in model.")
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    size: str | None = Field(default=None, max_length=20, description="WIDTHxHEIGHT or auto.")
    n: int = Field(default=1, ge=1, le=10)
    steps: int | None = Field(default=None, ge=1, le=1000)
    content_mode: Literal["standard", "unrestricted"] = "standard"
    options: dict[str, Any] | None = Field(
        default=None, max_length=16,
        description="The model's request options, e.g. {\"guidance\": 6}; /v1/models lists "
                    "each model's (type, range, choices). Unknown options are refused.")


class RerenderCreate(Create):
    model: str = Field(min_length=1, max_length=100)
    size: str | None = Field(default=None, max_length=20)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX,
                             description="Default: the job's seed (its first image's); "
                             "give another image's seed to re-render that one.")


class ImagePublic(BaseModel):
    id: str
    job_id: str
    index: int
    media_type: str
    width: int
    height: int
    sha256: str
    url: str = Field(description="The image bytes (owner only).")
    svg_url: str | None = None
    record: dict[str, Any] = Field(description="The full generation record (also in the PNG).")
    favourite: bool = Field(default=False, description="Starred in your gallery.")


class JobError(BaseModel):
    code: str
    message: str | None = None
    field: str | None = None
    side: str | None = None


class JobPublic(BaseModel):
    id: str
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    model: str
    prompt: str
    seed: int
    size: str
    width: int
    height: int
    n: int
    steps: int | None
    content_mode: str
    cost: int = Field(description="Credits quoted and held; captured only on success.")
    charged: int
    seconds: float | None
    created_at: str
    finished_at: str | None
    compare_id: str | None
    parent_job_id: str | None
    error: JobError | None
    options: dict[str, Any] = Field(default_factory=dict,
                                    description="The request options the job ran with.")
    notes: dict[str, Any]
    images: list[ImagePublic]


class GenerationAccepted(JobPublic):
    quoted_credits: int
    events_url: str


class CompareCreate(Create):
    prompt: str = Prompt
    models: list[str] = Field(min_length=2, max_length=4)
    seed: int | None = Field(default=None, ge=0, le=SEED_MAX)
    size: str | None = Field(default=None, max_length=20)


class PickPublic(BaseModel):
    compare_id: str
    job_id: str
    model: str
    shown: list[str] = Field(description="Models that showed an image, in the order shown.")
    prompt_kind: str
    blind: bool
    created_at: str


class ComparePublic(BaseModel):
    id: str
    prompt: str
    seed: int
    status: Literal["running", "done"]
    total_cost: int = Field(description="Credits quoted and held for all models.")
    total_charged: int
    keeper_job_id: str | None
    sheet_url: str | None
    jobs: list[JobPublic]
    pick: PickPublic | None = None


class KeeperUpdate(Create):
    job_id: str = Field(min_length=1, max_length=32)


class PickCreate(Create):
    job_id: str = Field(min_length=1, max_length=32, description="The image you chose.")
    blind: bool = Field(default=False, description="Chosen with the model names hidden.")
    shown: list[Annotated[str, Field(max_length=32)]] | None = Field(
        default=None, max_length=4,
        description="The comparison's job ids in the order shown (default: its own order).")


class WinRatePublic(BaseModel):
    model: str
    name: str
    wins: int
    shown: int
    rate: float


class KindWinRatesPublic(BaseModel):
    kind: str
    label: str
    picks: int
    models: list[WinRatePublic]


class WinRatesPublic(BaseModel):
    picks: int
    blind: int
    models: list[WinRatePublic]
    kinds: list[KindWinRatesPublic]


# -- catalog, quote, recommend ----------------------------------------------------------------

class ModelPublic(BaseModel):
    """One catalog model, in OpenAI's ``Model`` shape (id, object, created, owned_by) with
    Triptych's own fields beside them."""

    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time the installed catalog was built.")
    owned_by: str = Field(description="Who makes the model (the provider).")
    name: str
    provider: str
    family: str
    tier: str
    credits: int
    quality: str
    description: str
    strengths: list[str]
    weaknesses: list[str] = []
    best_for: list[str]
    capabilities: list[str]
    max_width: int
    max_height: int
    min_width: int
    min_height: int
    default_width: int
    default_height: int
    max_n: int
    takes_seed: bool
    default_steps: int | None
    max_steps: int | None
    builtin: bool
    available: bool
    unavailable_reason: str
    options: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Request options this model takes: name -> {type, description, minimum, "
                    "maximum, choices}.")


class ModelList(BaseModel):
    """OpenAI's model list: ``client.models.list()`` of the official client reads it."""

    object: Literal["list"] = "list"
    data: list[ModelPublic]


class QuoteRequest(Create):
    prompt: str = Field(default="quote", max_length=MAX_PROMPT_CHARS)
    model: str | None = Field(default=None, max_length=100)
    models: list[str] | None = Field(default=None, min_length=1, max_length=4)
    n: int = Field(default=1, ge=1, le=10)
    size: str | None = Field(default=None, max_length=20)


class QuoteLine(BaseModel):
    model: str
    name: str
    credits_per_image: int
    n: int
    credits: int
    tier: str
    available: bool
    unavailable_reason: str


class QuotePublic(BaseModel):
    lines: list[QuoteLine]
    total: int
    available: int
    affordable: bool
    renews_on: str


class RecommendRequest(Create):
    prompt: str = Prompt
    budget: int | None = Field(default=None, ge=0, le=1_000_000)
    speed: Literal["instant", "fast", "medium", "any"] = "any"
    include_unavailable: bool = False
    limit: int = Field(default=5, ge=1, le=20)


class IntentPublic(BaseModel):
    id: str
    label: str
    score: float
    evidence: list[str]


class RecommendationPublic(BaseModel):
    model: str
    name: str
    score: float
    tier: str
    credits: int
    available: bool
    reasons: list[str]
    unavailable_reason: str


class RecommendPublic(BaseModel):
    prompt: str
    intents: list[IntentPublic]
    recommendations: list[RecommendationPublic]


# -- credits and history ----------------------------------------------------------------------

class StatementLine(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    at: str
    kind: str
    amount: int
    delta: int = Field(description="Effect on spendable credits (holds negative, voids back).")
    from_: str = Field(alias="from")
    to: str
    job_id: str | None
    memo: str


class CreditsPublic(BaseModel):
    user: str
    plan: str
    available: int
    balance: int
    allowance: int
    purchased: int
    held: int
    monthly_allowance: int
    renews_on: str
    statement: list[StatementLine] = []


class HistoryPage(BaseModel):
    items: list[JobPublic]
    limit: int
    offset: int
    next_offset: int | None


# -- admin ------------------------------------------------------------------------------------

class GrantCreate(Create):
    email: str = Field(min_length=3, max_length=320)
    amount: int = Field(ge=1, le=1_000_000)
    reason: str = Field(min_length=1, max_length=200)


class PlanUpdate(Create):
    email: str = Field(min_length=3, max_length=320)
    plan: str = Field(min_length=1, max_length=16, description=(
        "A plan id of the install's plans (free, pro, or the operator's own)."))


class AdminJob(JobPublic):
    user_email: str


class AdminJobsPage(BaseModel):
    items: list[AdminJob]
    limit: int
    offset: int
    next_offset: int | None


class ModelOverrideUpdate(Create):
    """A run-time change to a model; fields left out stay as they are."""

    credits: int | None = Field(default=None, ge=0, le=1_000_000,
                                description="Credits per image for new jobs.")
    enabled: bool | None = Field(default=None, description="False: refuses new jobs.")


class AdminModel(BaseModel):
    """A model's card values (built-in catalog plus operator files) and what applies now."""

    id: str
    name: str
    provider: str
    tier: str
    card_credits: int
    card_enabled: bool
    credits: int
    enabled: bool
    override_credits: int | None
    override_enabled: bool | None
    updated_at: str | None
    updated_by: str | None


class AuditEntryPublic(BaseModel):
    id: int
    at: str
    actor: str
    actor_id: int | None
    action: str
    action_words: str
    target: str
    old: Any = None
    new: Any = None
    note: str


class AuditPage(BaseModel):
    items: list[AuditEntryPublic]
    total: int
    limit: int
    offset: int


# -- OpenAI-compatible ------------------------------------------------------------------------

class OpenAIImagesRequest(BaseModel):
    """``CreateImageRequest``. Unknown and GPT-only fields (quality, style, background, …) are
    accepted and ignored, as the official client may send them."""

    model_config = ConfigDict(extra="allow")
    prompt: str = Prompt
    model: str | None = Field(default=None, max_length=100)
    n: int | None = Field(default=None, ge=1, le=10)
    size: str | None = Field(default=None, max_length=20)
    response_format: Literal["url", "b64_json"] | None = None
    user: str | None = Field(default=None, max_length=200)


class OpenAIImage(BaseModel):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class OpenAIImagesResponse(BaseModel):
    created: int
    data: list[OpenAIImage]


class OpenAIErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: str
    type: str
    param: str | None
    code: str | None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorDetail
