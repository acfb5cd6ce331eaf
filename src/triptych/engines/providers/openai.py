"""OpenAI Images API (``gpt-image-1`` and successors).

Contract: ``POST {base}/v1/images/generations`` with ``Authorization: Bearer``; JSON body
``{model, prompt, n, size}``; GPT image models always answer ``data[].b64_json`` (a ``url`` is
still accepted and downloaded). No seed field exists: the seed is ignored and noted.

Sizes: gpt-image-1 family takes 1024x1024, 1536x1024 or 1024x1536 (we snap to the nearest
ratio, then area, and note it); gpt-image-2 takes any WxH with sides divisible by 16, ratio
within 1:3..3:1, at most 3840x2160 (we round and clamp, and note it).

Retries: the official SDK retries POSTs on 408/409/429/5xx, so a 5xx submit is retried here
too; ``x-should-retry`` from the server overrides the decision either way.

Errors:
    400 code moderation_blocked / content_policy_violation /
        image_content_policy_violation          -> ModerationError(side from
                                                   moderation_details.moderation_stage)
    429 or 400 code insufficient_quota,
        billing_hard_limit_reached              -> ProviderOutOfCreditError (not retried)
    400/422 other                               -> InvalidRequestError(field=error.param)
    401/403                                     -> ProviderAuthError (auth_failed)
    404                                         -> ProviderUnavailableError
    408/429/5xx                                 -> RetryableError after retries
"""

from __future__ import annotations

from typing import Any

from triptych.engines.base import EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.options import OptionSpec
from triptych.engines.providers.adapter import (
    CheckResult,
    HostedEngine,
    HostedFactory,
    seed_ignored_note,
)
from triptych.engines.providers.http import Reply, body_excerpt
from triptych.engines.providers.sizes import fit_pixels, nearest_size, size_note

GPT_IMAGE_1_SIZES = [(1024, 1024), (1536, 1024), (1024, 1536)]
MODERATION_CODES = {"moderation_blocked", "content_policy_violation",
                    "image_content_policy_violation"}
OUT_OF_CREDIT_CODES = {"insufficient_quota", "billing_hard_limit_reached",
                       "billing_not_active"}
# Extra request fields a caller may pass through ``request.options`` unchanged.
PASS_THROUGH = ("quality", "background", "output_format", "output_compression", "moderation",
                "user")


def openai_error(reply: Reply) -> dict[str, Any]:
    body = reply.json_or_none()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"]
    return {}


class OpenAIEngine(HostedEngine):
    provider = "openai"
    display = "OpenAI"
    options = {
        "background": OptionSpec("choice", "transparent for a cut-out (PNG or WebP).",
                                 choices=("auto", "transparent", "opaque")),
        "output_format": OptionSpec("choice", "The file format OpenAI returns.",
                                    choices=("png", "jpeg", "webp")),
    }
    max_n = 10

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n > self.max_n:
            raise InvalidRequestError(f"{self.display} makes at most {self.max_n} images at once.",
                                      field="n")
        notes: dict[str, Any] = {}
        body: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": request.n,
                                "size": self.size_for(model, request, notes)}
        for key in PASS_THROUGH:
            if key in request.options:
                body[key] = request.options[key]
        seed_ignored_note(notes, self.display)
        reply = self.http.send("POST", self.http.url("/v1/images/generations"), json_body=body,
                               retry_5xx=True)
        self.raise_for(reply)
        payload = self.json_body(reply)
        images, empty = self.images_from_items(payload.get("data"), request)
        if not images:
            raise self.malformed(f"no image in response ({empty} empty items)")
        if isinstance(payload.get("usage"), dict):
            notes["usage"] = payload["usage"]
        return EngineResult(images=images, model_version=model, notes=notes)

    def size_for(self, model: str, request: GenerationRequest, notes: dict[str, Any]) -> str:
        asked = (request.width, request.height)
        if model.startswith("gpt-image-2"):
            w, h = asked
            # clamp the ratio to 1:3..3:1 first, then fit the pixel budget on multiples of 16
            if w > 3 * h:
                w = 3 * h
            elif h > 3 * w:
                h = 3 * w
            w, h = fit_pixels(w, h, multiple=16, max_pixels=3840 * 2160, max_side=3840,
                              min_side=16)
            # rounding to 16 can nudge the ratio just past 3:1; trim the long side back
            w, h = min(w, 3 * h // 16 * 16), min(h, 3 * w // 16 * 16)
            size = (w, h)
        else:
            size = nearest_size(*asked, GPT_IMAGE_1_SIZES)
        if size != asked:
            notes["size"] = size_note(asked, size)
        return f"{size[0]}x{size[1]}"

    def _classify(self, reply: Reply) -> EngineError | None:
        err = openai_error(reply)
        code = str(err.get("code") or "")
        detail = body_excerpt(reply, self.http.redact)
        if code in MODERATION_CODES:
            stage = (err.get("moderation_details") or {}).get("moderation_stage")
            return self.moderated("output" if stage == "output" else "input", detail)
        if code in OUT_OF_CREDIT_CODES or err.get("type") == "insufficient_quota":
            return self.out_of_credit(detail)
        if reply.status in (400, 422):
            return self.generic_error(reply, field=err.get("param") or None)
        return None

    def _check(self) -> CheckResult:
        reply = self.http.send("GET", self.http.url("/v1/models"))
        self.raise_for(reply)
        return CheckResult(self.provider, "ok", "listed models")


factory = HostedFactory(OpenAIEngine)
