"""What every hosted adapter shares: construction from settings, request checks, the generic
HTTP-status-to-taxonomy mapping, result decoding and the ``providers check`` probe.

Generic mapping (a provider module refines it from the body first):

    401, 403        -> ProviderAuthError          ("provider unavailable", check the key)
    402             -> ProviderOutOfCreditError
    404             -> ProviderUnavailableError   (the catalog names a model the host lacks)
    400, 409, 413, 422 -> InvalidRequestError
    408, 429, 5xx   -> RetryableError (with the provider's Retry-After, if any)
    anything else   -> FatalError

A provider that answers a bad key with some other status (xAI's and Gemini's 400s) says so
in its ``_classify``, returning ``auth_failed``; a provider that puts its retry delay in the
body says so in ``_body_retry_after``, which the HTTP layer's retries and ``RetryableError``
both honour. ``check`` maps the error types to ``providers check`` statuses:
ProviderAuthError -> auth_failed, ProviderOutOfCreditError -> out_of_credit, other
ProviderUnavailableError -> unavailable, RetryableError -> unreachable, the rest -> error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from triptych.engines.base import (
    Availability,
    EngineImage,
    EngineResult,
    GenerationRequest,
    ProgressCallback,
)
from triptych.engines.errors import (
    EngineError,
    FatalError,
    InvalidRequestError,
    ModerationError,
    ProviderAuthError,
    ProviderOutOfCreditError,
    ProviderUnavailableError,
    RetryableError,
)
from triptych.engines.options import OptionSpec
from triptych.engines.providers import images
from triptych.engines.providers.http import (
    HttpConfig,
    ProviderHttp,
    Reply,
    body_excerpt,
    parse_retry_after,
)
from triptych.engines.providers.upstream import UpstreamGuard

if TYPE_CHECKING:
    from triptych.catalog.card import ModelCard
    from triptych.settings import Settings

log = logging.getLogger("triptych.providers")


@dataclass(frozen=True)
class CheckResult:
    provider: str
    # "ok", "unverified", "not_configured", "auth_failed", "out_of_credit", "unavailable",
    # "unreachable", "error"
    status: str
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class HostedEngine:
    """Base of every provider adapter. Subclasses set the class constants and implement
    ``_generate`` (and usually ``_classify``, ``_auth_headers`` and ``_check``)."""

    provider: ClassVar[str]  # settings prefix, e.g. "bfl"
    display: ClassVar[str]  # shown to users, e.g. "Black Forest Labs"
    trusted_suffixes: ClassVar[tuple[str, ...]] = ()  # provider hosts that may get the key
    supports_unrestricted: ClassVar[bool] = False
    takes_steps: ClassVar[bool] = False  # else a requested step count is ignored and noted
    # Request options a user may set (engines/options.py); the adapter forwards them.
    options: ClassVar[dict[str, OptionSpec]] = {}

    def __init__(
        self,
        *,
        api_key: str,
        base_url: str,
        model: str = "",
        config: HttpConfig | None = None,
        trusted_hosts: tuple[str, ...] = (),
        transport: Any = None,
        upstream_allow: str = "",
    ) -> None:
        """``upstream_allow``: where result downloads may go although the address is not
        public (``TRIPTYCH_UPSTREAM_ALLOW``, see ``upstream.py``)."""
        self.model = model
        self.http = ProviderHttp(
            display=self.display,
            base_url=base_url,
            auth_headers=self._auth_headers(api_key),
            secrets=[api_key],
            config=config,
            trusted_hosts=(*self.trusted_suffixes, *trusted_hosts),
            transport=transport,
            should_retry=self._retry_decision,
            retry_after=self.retry_after_for,
            upstream=UpstreamGuard(upstream_allow),
        )

    # ---------------------------------------------------------------- hooks

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"authorization": f"Bearer {api_key}"}

    def _generate(
        self, request: GenerationRequest, progress: ProgressCallback | None
    ) -> EngineResult:
        raise NotImplementedError

    def _classify(self, reply: Reply) -> EngineError | None:
        """Provider-specific reading of an error body; None falls back to the generic map."""
        return None

    def _retry_decision(self, reply: Reply) -> bool | None:
        """A 429 that means "out of credit" (OpenAI's insufficient_quota) is final."""
        if isinstance(self._classify(reply), ProviderOutOfCreditError):
            return False
        return None

    def _body_retry_after(self, reply: Reply) -> float | None:
        """A retry delay the provider put in the error body (none by default)."""
        return None

    def _check(self) -> CheckResult:
        return CheckResult(self.provider, "unverified",
                           "key is set; this provider offers no free call to verify it")

    # ---------------------------------------------------------------- public

    def generate(
        self, request: GenerationRequest, progress: ProgressCallback | None = None
    ) -> EngineResult:
        self._check_common(request)
        result = self._generate(request, progress)
        if request.steps is not None and not self.takes_steps:
            result.notes.setdefault(
                "steps", f"{self.display} takes no step count; {request.steps} was ignored")
        return result

    def check(self) -> CheckResult:
        """One cheap, free call that proves the key works (``triptych providers check``)."""
        try:
            return self._check()
        except ProviderOutOfCreditError as exc:
            return CheckResult(self.provider, "out_of_credit", exc.detail or exc.message)
        except ProviderAuthError as exc:
            return CheckResult(self.provider, "auth_failed", exc.detail or exc.message)
        except ProviderUnavailableError as exc:
            return CheckResult(self.provider, "unavailable", exc.detail or exc.message)
        except RetryableError as exc:
            return CheckResult(self.provider, "unreachable", exc.detail or exc.message)
        except EngineError as exc:
            return CheckResult(self.provider, "error", exc.detail or exc.message)

    def close(self) -> None:
        self.http.close()

    # ---------------------------------------------------------------- helpers

    def target(self, request: GenerationRequest) -> str:
        return request.target or self.model

    def _check_common(self, request: GenerationRequest) -> None:
        if not request.prompt.strip():
            raise InvalidRequestError("The prompt is empty.", field="prompt")
        if request.n < 1:
            raise InvalidRequestError("n must be at least 1.", field="n")
        if request.width < 1 or request.height < 1:
            raise InvalidRequestError("Width and height must be positive.", field="size")
        if request.content_mode not in ("standard", "unrestricted"):
            raise InvalidRequestError(f"Unknown content mode {request.content_mode!r}.",
                                      field="content_mode")
        if request.content_mode == "unrestricted" and not self.supports_unrestricted:
            raise InvalidRequestError(
                f"{self.display} has no unrestricted mode; use the standard mode.",
                field="content_mode",
            )

    def retry_after_for(self, reply: Reply) -> float | None:
        """Seconds the provider asked us to wait: its headers, else its body."""
        header = parse_retry_after(reply.headers)
        return header if header is not None else self._body_retry_after(reply)

    def raise_for(self, reply: Reply) -> None:
        """Raise the taxonomy error for a non-2xx reply (no-op on success)."""
        if reply.ok:
            return
        specific = self._classify(reply)
        raise specific or self.generic_error(reply)

    def generic_error(self, reply: Reply, field: str | None = None) -> EngineError:
        detail = body_excerpt(reply, self.http.redact)
        status = reply.status
        if status in (401, 403):
            return self.auth_failed(detail)
        if status == 402:
            return self.out_of_credit(detail)
        if status == 404:
            return self.unavailable(detail)
        if status in (400, 409, 413, 422):
            return InvalidRequestError(
                f"{self.display} rejected the request as invalid.", field=field, detail=detail
            )
        if status in (408, 429) or status >= 500:
            what = "is rate-limiting requests" if status == 429 else "is having trouble"
            return RetryableError(
                f"{self.display} {what}; try again shortly.",
                retry_after=self.retry_after_for(reply),
                detail=f"{detail} (after {reply.attempts} tries)",
            )
        return FatalError(f"{self.display} failed unexpectedly.", detail=detail)

    def unavailable(self, detail: str) -> ProviderUnavailableError:
        return ProviderUnavailableError(
            f"Provider unavailable: {self.display} cannot serve this model right now.",
            detail=self.http.redact(detail),
        )

    def auth_failed(self, detail: str) -> ProviderAuthError:
        env = f"TRIPTYCH_{self.provider.upper()}_API_KEY"
        return ProviderAuthError(
            f"Provider unavailable: {self.display} did not accept the operator's API key "
            f"(invalid, expired or without access); the operator should check {env}.",
            detail=self.http.redact(detail),
        )

    def out_of_credit(self, detail: str) -> ProviderOutOfCreditError:
        return ProviderOutOfCreditError(
            f"Provider unavailable: the operator's {self.display} account is out of credit.",
            detail=self.http.redact(detail),
        )

    def moderated(self, side: str, detail: str, reason: str = "") -> ModerationError:
        """``reason`` is the provider's reason code, shown to the user in plain words."""
        where = "prompt" if side == "input" else "generated image"
        words = plain_reason(reason)
        return ModerationError(
            f"{self.display}'s safety system blocked the {where}"
            + (f" (reason: {words})." if words else "."),
            side=side,
            detail=self.http.redact(detail),
        )

    def failed(self, detail: str) -> FatalError:
        return FatalError(f"{self.display} could not generate this image.",
                          detail=self.http.redact(detail))

    def malformed(self, detail: str) -> FatalError:
        return FatalError(f"{self.display} returned a malformed result.",
                          detail=self.http.redact(detail))

    def image_from_bytes(
        self, data: bytes, content_type: str = "", *, request: GenerationRequest | None = None,
        vector: bool = False,
    ) -> EngineImage:
        """Decode + check a result; SVG (when ``vector``) becomes svg bytes + a preview."""
        if vector or (content_type and "svg" in content_type):
            if not images.looks_like_svg(data, content_type):
                raise self.malformed(f"expected SVG, got {content_type or 'unknown'} "
                                     f"({len(data)} bytes)")
            width = request.width if request else 1024
            height = request.height if request else 1024
            svg, preview = images.decode_svg(data, display=self.display, width=width,
                                             height=height)
            return EngineImage(image=preview, svg=svg)
        image = images.decode_image(data, display=self.display)
        notes: dict[str, Any] = {}
        if request is not None and image.size != (request.width, request.height):
            notes["returned_size"] = f"{image.width}x{image.height}"
        return EngineImage(image=image, notes=notes)

    def image_from_b64(self, data: Any, *, request: GenerationRequest | None = None,
                       vector: bool = False) -> EngineImage:
        if not isinstance(data, str):
            raise self.malformed("image payload is not a base64 string")
        raw = images.b64decode(data, display=self.display)
        return self.image_from_bytes(raw, request=request, vector=vector)

    def image_from_url(self, url: Any, *, request: GenerationRequest | None = None,
                       vector: bool = False) -> EngineImage:
        if not isinstance(url, str) or not url:
            raise self.malformed("result URL missing or not a string")
        data, content_type = self.http.download(url)
        return self.image_from_bytes(data, content_type, request=request, vector=vector)

    def images_from_items(
        self,
        items: Any,
        request: GenerationRequest,
        *,
        vector: bool = False,
        annotate: Callable[[dict[str, Any], EngineImage], None] | None = None,
    ) -> tuple[list[EngineImage], int]:
        """OpenAI-shaped ``data[]`` -> (images, number of items that carried no image)."""
        if not isinstance(items, list):
            raise self.malformed("response has no 'data' list")
        out: list[EngineImage] = []
        empty = 0
        for item in items:
            if not isinstance(item, dict):
                raise self.malformed("a 'data' item is not an object")
            if item.get("b64_json"):
                image = self.image_from_b64(item["b64_json"], request=request, vector=vector)
            elif item.get("url"):
                image = self.image_from_url(item["url"], request=request, vector=vector)
            else:
                empty += 1
                continue
            if item.get("revised_prompt"):
                image.notes["revised_prompt"] = item["revised_prompt"]
            if annotate is not None:
                annotate(item, image)
            out.append(image)
        return out, empty

    def json_body(self, reply: Reply) -> dict[str, Any]:
        body = reply.json_or_none()
        if not isinstance(body, dict):
            raise self.malformed(f"expected a JSON object: {body_excerpt(reply, self.http.redact)}")
        return body


class HostedFactory:
    """The module-level ``factory`` of a provider module (see ``engines/registry.py``)."""

    def __init__(
        self,
        engine_cls: type[HostedEngine],
        *,
        config: HttpConfig | None = None,
        trusted_hosts: tuple[str, ...] = (),
    ) -> None:
        self.engine_cls = engine_cls
        self.config = config
        self.trusted_hosts = trusted_hosts

    @property
    def provider(self) -> str:
        return self.engine_cls.provider

    def options(self, card: ModelCard) -> dict[str, OptionSpec]:
        return dict(self.engine_cls.options)

    def availability(self, card: ModelCard, settings: Settings) -> Availability:
        if not settings.provider_key(self.provider):
            env = f"TRIPTYCH_{self.provider.upper()}_API_KEY"
            return Availability(False, f"{self.engine_cls.display} is not configured: "
                                       f"set {env}")
        problem = self.engine_cls_target_problem(card.target)
        if problem:
            return Availability(False, problem)
        return Availability(True)

    def engine_cls_target_problem(self, target: str) -> str:
        checker = getattr(self.engine_cls, "target_problem", None)
        return checker(target) if checker else ""

    def create(self, card: ModelCard, settings: Settings) -> HostedEngine:
        key = settings.provider_key(self.provider)
        if not key:
            raise ProviderUnavailableError(
                f"Provider unavailable: {self.engine_cls.display} is not configured.",
                detail=f"TRIPTYCH_{self.provider.upper()}_API_KEY is not set",
            )
        return self.engine_for(key, settings.provider_base_url(self.provider), card.target,
                               upstream_allow=settings.upstream_allow)

    def engine_for(self, api_key: str, base_url: str, model: str = "", *,
                   upstream_allow: str = "") -> HostedEngine:
        return self.engine_cls(api_key=api_key, base_url=base_url, model=model,
                               config=self.config, trusted_hosts=self.trusted_hosts,
                               upstream_allow=upstream_allow)


_BAD_KEY = re.compile(
    r"\b(?:incorrect|invalid|expired|revoked)\s+api[\s_-]?key"
    r"|\bapi[\s_-]?key\s+(?:is\s+)?(?:not\s+valid|invalid|expired|revoked)",
    re.IGNORECASE,
)
# Reason codes whose words alone would not say what happened.
_REASON_WORDS = {"spii": "sensitive personal information", "blocklist": "a blocked term"}


def mentions_bad_key(message: str) -> bool:
    """True when an error message says the API key itself is wrong ("Incorrect API key
    provided", "API key not valid", "API key expired")."""
    return bool(_BAD_KEY.search(message))


def plain_reason(reason: str) -> str:
    """A provider's reason code in plain words: ``PROHIBITED_CONTENT`` -> "prohibited
    content"; "" for codes that say nothing (``OTHER``, ``*_UNSPECIFIED``)."""
    code = str(reason or "").strip()
    key = code.lower().replace("-", "_")
    if not key or key in ("other", "unknown", "none") or key.endswith("unspecified"):
        return ""
    if key in _REASON_WORDS:
        return _REASON_WORDS[key]
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", code).replace("_", " ").replace("-", " ")
    return " ".join(_REASON_WORDS.get(w.lower(), w.lower()) for w in words.split())[:120]


def validation_field(reply: Reply) -> str | None:
    """The parameter a FastAPI-style 422 ``{"detail":[{"loc":[...]}]}`` complains about."""
    body = reply.json_or_none()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        loc = detail[0].get("loc") or []
        if loc:
            name = str(loc[-1])
            return "size" if name in ("width", "height") else name
    return None


def seed_ignored_note(notes: dict[str, Any], display: str) -> None:
    notes["seed"] = f"{display} takes no seed; results are not reproducible"
