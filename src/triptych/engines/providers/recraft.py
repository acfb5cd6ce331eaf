"""Recraft (``recraftv4_pro``, ``recraftv4_pro_vector`` and the other ``recraftv*`` models).

Contract: ``POST {base}/v1/images/generations`` with ``Authorization: Bearer``; body
``{prompt, model, n, size, random_seed, response_format}``. Raster models answer
``data[].b64_json`` (we ask for it) or ``data[].url``; ``_vector`` models answer an SVG, which
we request as a ``url`` (the documented form), download, check, and return as
``EngineImage(svg=..., image=<PNG preview>)``. ``credits`` in the answer becomes
``provider_cost``.

Sizes: the width x height is snapped to the nearest ratio form of ``size`` (``1:1``, ``16:9``,
...), which every model accepts, and noted. The seed goes to ``random_seed`` (uint32).

Errors are **text/plain or JSON** (``{"code","message"}`` or ``{"detail"}``): the body is read
as text and parsed only when it is JSON.
    401/403 (e.g. "request unauthorized")       -> ProviderAuthError (auth_failed)
    402, or a "not enough credits" message      -> ProviderOutOfCreditError
    a message about NSFW / moderation / policy  -> ModerationError("input")
    other 4xx                                   -> InvalidRequestError
    404 ("404 page not found")                  -> ProviderUnavailableError
    429/5xx                                     -> RetryableError (submit not retried on 5xx)
"""

from __future__ import annotations

from typing import Any

from triptych.engines.base import EngineImage, EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.options import OptionSpec
from triptych.engines.providers.adapter import CheckResult, HostedEngine, HostedFactory
from triptych.engines.providers.http import Reply, body_excerpt
from triptych.engines.providers.sizes import nearest_ratio, size_note

RATIOS = ["1:1", "2:1", "1:2", "3:2", "2:3", "4:3", "3:4", "5:4", "4:5", "6:10", "14:10",
          "10:14", "16:9", "9:16"]
MODERATION_WORDS = ("nsfw", "moderation", "content policy", "inappropriate", "prohibited")
CREDIT_WORDS = ("not enough credits", "insufficient credits", "insufficient balance",
                "out of credits")
MAX_N = 6


def error_text(reply: Reply) -> str:
    body = reply.json_or_none() if "json" in reply.content_type else None
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "code"):
            if body.get(key):
                return str(body[key])
    return reply.text


def _annotate(item: dict[str, Any], image: EngineImage) -> None:
    if item.get("image_id"):
        image.notes["recraft_image_id"] = item["image_id"]
    features = item.get("features")
    if isinstance(features, dict) and "nsfw_score" in features:
        image.notes["nsfw_score"] = features["nsfw_score"]


class RecraftEngine(HostedEngine):
    provider = "recraft"
    display = "Recraft"
    options = {
        "style": OptionSpec("choice", "Recraft's base style.", choices=(
            "any", "digital_illustration", "icon", "realistic_image", "vector_illustration",
            "logo_raster")),
        "substyle": OptionSpec("text", "A Recraft substyle of the chosen style, e.g. "
                               "watercolor, pixel_art, hand_drawn.", max_length=64),
        "negative_prompt": OptionSpec("text", "What the image should not show.",
                                      max_length=1000),
    }

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        vector = model.endswith("_vector")
        if request.n > MAX_N:
            raise InvalidRequestError(f"{self.display} makes at most {MAX_N} images at once.",
                                      field="n")
        notes: dict[str, Any] = {}
        ratio = nearest_ratio(request.width, request.height, RATIOS)
        notes["size"] = size_note((request.width, request.height), ratio)
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "model": model,
            "n": request.n,
            "size": ratio,
            "random_seed": request.seed % 2**32,
            "response_format": "url" if vector else "b64_json",
        }
        for key in ("style", "substyle", "style_id", "negative_prompt", "controls"):
            if key in request.options:
                body[key] = request.options[key]
        reply = self.http.send("POST", self.http.url("/v1/images/generations"), json_body=body)
        self.raise_for(reply)
        payload = self.json_body(reply)
        images, empty = self.images_from_items(payload.get("data"), request, vector=vector,
                                               annotate=_annotate)
        if not images:
            raise self.malformed(f"no image in response ({empty} empty items)")
        credits = payload.get("credits")
        return EngineResult(
            images=images,
            model_version=model,
            provider_cost=f"{credits} Recraft credits" if credits is not None else None,
            notes=notes,
        )

    def _classify(self, reply: Reply) -> EngineError | None:
        message = error_text(reply).lower()
        detail = body_excerpt(reply, self.http.redact)
        if reply.status in (401, 403) and not any(w in message for w in MODERATION_WORDS):
            return self.auth_failed(detail)
        if reply.status == 402 or any(w in message for w in CREDIT_WORDS):
            return self.out_of_credit(detail)
        if 400 <= reply.status < 500 and reply.status not in (404, 408, 429) and any(
                w in message for w in MODERATION_WORDS):
            return self.moderated("input", detail)
        if reply.status in (400, 422):
            field = "size" if "size" in message else ("n" if " n " in f" {message} " else None)
            return self.generic_error(reply, field=field)
        return None

    def _check(self) -> CheckResult:
        reply = self.http.send("GET", self.http.url("/v1/users/me"))
        self.raise_for(reply)
        body = reply.json_or_none()
        credits = body.get("credits") if isinstance(body, dict) else None
        return CheckResult(self.provider, "ok",
                           f"account reachable; {credits} credits left" if credits is not None
                           else "account reachable")


factory = HostedFactory(RecraftEngine)
