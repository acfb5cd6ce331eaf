"""fal.ai queue API: BitDance (``fal-ai/bitdance``) and any fal model id.

Contract (base ``https://queue.fal.run``, header ``Authorization: Key <key>``):
    POST {base}/{model_id}                  -> {request_id, status_url, response_url, ...}
    GET  status_url                         -> {status: IN_QUEUE | IN_PROGRESS | COMPLETED,
                                                queue_position?, error?, error_type?}
    GET  response_url                       -> the model's output, usually
                                               {images:[{url,width,height,content_type}],
                                                seed, has_nsfw_concepts:[bool]}
The returned ``status_url``/``response_url`` are used as given (the key goes only to the base
URL's host and ``*.fal.run``/``*.fal.ai``); if absent they are built from ``request_id``.
Image URLs (fal's CDN, or ``data:`` URIs) are downloaded without credentials.

Inputs: ``prompt``, ``image_size {width, height}``, ``num_images`` (= n), ``seed``,
``num_inference_steps`` (= steps, when given), ``enable_safety_checker: true``, plus
``request.options`` passed through for model-specific fields.

Outcomes:
    COMPLETED with ``error``: error_type containing content_policy / nsfw / moderation
                                              -> ModerationError (side below)
                              other           -> FatalError
    result with every ``has_nsfw_concepts`` true -> ModerationError("output"); some true ->
                                               those images dropped and noted
    422 with ``detail[].type`` ``content_policy_violation`` (how fal answers the result
        fetch, ``GET response_url``, for a blocked prompt; also ``error_type`` in the body
        or the ``x-fal-error-type`` header)   -> ModerationError: side "output" when the
                                               item's ``msg``/``loc`` speaks of the output or
                                               generated image, else "input"
    422 (other ``detail`` list)               -> InvalidRequestError(field from loc)
    401/403 (balance/locked message)          -> ProviderOutOfCreditError, else
                                               ProviderAuthError (auth_failed)
    429/5xx                                   -> RetryableError. The submit is retried on
                                               502/503/504 only without ``x-fal-request-id``
                                               (an ingress error: the job never reached fal's
                                               queue), as fal's own client does.
"""

from __future__ import annotations

from typing import Any

from triptych.engines.base import EngineImage, EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.providers.adapter import (
    CheckResult,
    HostedEngine,
    HostedFactory,
    validation_field,
)
from triptych.engines.providers.http import Reply, body_excerpt

MODERATION_TYPES = ("content_policy", "nsfw", "moderation", "safety")
CREDIT_WORDS = ("balance", "locked", "billing", "insufficient")
RESERVED = {"prompt", "image_size", "num_images", "seed", "num_inference_steps"}


_OUTPUT_WORDS = ("output", "generated")


def policy_violations(body: Any) -> list[dict[str, Any]]:
    """The ``detail[]`` items of a FastAPI-style error whose ``type`` is a content-policy
    violation (``content_policy_violation``)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if not isinstance(detail, list):
        return []
    return [d for d in detail if isinstance(d, dict)
            and any(w in str(d.get("type") or "").lower() for w in MODERATION_TYPES)]


def blocked_side(text: str) -> str:
    """Which side was blocked is said only in words (``msg``, ``loc``, the error text):
    the output when they speak of it, else the input."""
    return "output" if any(w in text.lower() for w in _OUTPUT_WORDS) else "input"


def _ingress_retry(reply: Reply) -> bool | None:
    if reply.status in (502, 503, 504):
        return "x-fal-request-id" not in reply.headers
    return None


class FalEngine(HostedEngine):
    provider = "fal"
    display = "fal.ai"
    takes_steps = True
    trusted_suffixes = (".fal.run", ".fal.ai", "queue.falrun.com")
    max_n = 4

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"authorization": f"Key {api_key}"}

    @staticmethod
    def target_problem(target: str) -> str:
        if "/" not in target:
            return f"'{target}' is not a fal model id (owner/name)"
        return ""

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n > self.max_n:
            raise InvalidRequestError(f"{self.display} makes at most {self.max_n} images at once.",
                                      field="n")
        body: dict[str, Any] = {k: v for k, v in request.options.items() if k not in RESERVED}
        body.update({
            "prompt": request.prompt,
            "image_size": {"width": request.width, "height": request.height},
            "num_images": request.n,
            "seed": request.seed,
        })
        body.setdefault("enable_safety_checker", True)
        if request.steps is not None:
            body["num_inference_steps"] = request.steps
        submit = self.http.send("POST", self.http.url(f"/{model}"), json_body=body,
                                should_retry=_ingress_retry)
        self.raise_for(submit)
        ticket = self.json_body(submit)
        request_id = ticket.get("request_id")
        if not request_id and not ticket.get("status_url"):
            raise self.malformed("submit answer has no request_id")
        app = "/".join(model.split("/")[:2])  # status/result URLs drop any subpath
        status_url = ticket.get("status_url") or self.http.url(
            f"/{app}/requests/{request_id}/status")
        response_url = ticket.get("response_url") or self.http.url(
            f"/{app}/requests/{request_id}")

        def check() -> dict[str, Any] | None:
            reply = self.http.send("GET", status_url)
            self.raise_for(reply)
            state = self.json_body(reply)
            status = state.get("status")
            if status in ("IN_QUEUE", "IN_PROGRESS"):
                if progress is not None:
                    progress(0.5 if status == "IN_PROGRESS" else 0.0, None)
                return None
            return state

        state = self.http.poll(check)
        status = state.get("status")
        info = (f"request {request_id}: status {status!r} error={state.get('error')!r} "
                f"error_type={state.get('error_type')!r}")
        if status != "COMPLETED":
            raise self.failed(info)
        if state.get("error"):
            error_type = str(state.get("error_type") or "").lower()
            if any(w in error_type for w in MODERATION_TYPES):
                raise self.moderated(blocked_side(str(state.get("error"))), info)
            raise self.failed(info)
        reply = self.http.send("GET", response_url)
        self.raise_for(reply)
        output = self.json_body(reply)
        images, notes = self._images(output, request)
        if progress is not None:
            progress(1.0, None)
        return EngineResult(images=images, model_version=model, notes=notes)

    def _images(self, output: dict[str, Any], request: GenerationRequest
                ) -> tuple[list[EngineImage], dict[str, Any]]:
        items = output.get("images")
        if items is None and isinstance(output.get("image"), dict):
            items = [output["image"]]
        if not isinstance(items, list) or not items:
            raise self.malformed("model output has no images")
        flags = output.get("has_nsfw_concepts")
        flags = flags if isinstance(flags, list) else []
        notes: dict[str, Any] = {}
        images: list[EngineImage] = []
        blocked = 0
        for i, item in enumerate(items):
            if i < len(flags) and flags[i] is True:
                blocked += 1  # fal's checker replaced this one with a black frame
                continue
            url = item.get("url") if isinstance(item, dict) else item
            images.append(self.image_from_url(url, request=request))
        if not images:
            raise self.moderated("output", f"has_nsfw_concepts flagged all {blocked} images")
        if blocked:
            notes["moderated_images"] = blocked
        if "seed" in output:
            notes["provider_seed"] = output["seed"]
        if isinstance(output.get("timings"), dict):
            notes["timings"] = output["timings"]
        return images, notes

    def _classify(self, reply: Reply) -> EngineError | None:
        body = reply.json_or_none()
        detail_value = body.get("detail") if isinstance(body, dict) else None
        message = str(detail_value or reply.text).lower()
        error_type = (reply.headers.get("x-fal-error-type") or "").lower()
        if isinstance(body, dict) and body.get("error_type"):
            error_type = str(body["error_type"]).lower()
        detail = body_excerpt(reply, self.http.redact)
        violations = policy_violations(body)
        if violations:
            said = " ".join(f"{v.get('msg') or ''} {v.get('loc') or ''}" for v in violations)
            return self.moderated(blocked_side(said), detail)
        if any(w in error_type for w in MODERATION_TYPES):
            return self.moderated(blocked_side(message), detail)
        if reply.status in (401, 402, 403) and any(w in message for w in CREDIT_WORDS):
            return self.out_of_credit(detail)
        if reply.status in (401, 403):
            return self.auth_failed(detail)
        if reply.status in (400, 422):
            return InvalidRequestError(f"{self.display} rejected the request as invalid.",
                                       field=validation_field(reply), detail=detail)
        return None

    def _check(self) -> CheckResult:
        # Status of a request id that does not exist: free; a bad key gets 401/403 first.
        probe = self.http.url(f"/{self.model or 'fal-ai/bitdance'}/requests/"
                              "00000000-0000-0000-0000-000000000000/status")
        reply = self.http.send("GET", probe)
        if reply.status in (401, 403):
            raise self.auth_failed(body_excerpt(reply, self.http.redact))
        if reply.ok or reply.status in (400, 404, 422):
            return CheckResult(self.provider, "ok", "key accepted (unknown-request probe)")
        self.raise_for(reply)
        return CheckResult(self.provider, "error", body_excerpt(reply, self.http.redact))


factory = HostedFactory(FalEngine)
