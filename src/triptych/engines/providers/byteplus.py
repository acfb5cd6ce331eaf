"""ByteDance Seedream through BytePlus ModelArk (``seedream-5-0-260128``, ``seedream-4-*``).

Contract: ``POST {base}/api/v3/images/generations`` with ``Authorization: Bearer``; body
``{model, prompt, size: "WxH", seed, watermark: false, response_format: "b64_json",
sequential_image_generation: "disabled"}``. Synchronous; the answer is OpenAI-shaped
``data[]`` (items may carry their own ``error``) plus ``usage``.

Sizes: Seedream 4.5/5.0 need at least 3.68 MP (4.0: 0.92 MP) and at most 16.78 MP, so the
request is scaled into that window keeping its ratio (multiples of 8) and noted. Seeds are
taken modulo 2^31 (the API's range). ``n`` images are made by ``n`` calls with seeds
``seed, seed+1, ...`` (noted), because the API's own multi-image mode makes a *sequence*
of related images, not independent samples. We ask for no watermark.

Errors ``{error:{code, message, type}}`` (400 BadRequest):
    InputTextSensitiveContentDetected, InputImageSensitiveContentDetected,
        SensitiveContentDetected[.*]              -> ModerationError("input")
    OutputImageSensitiveContentDetected[.*]       -> ModerationError("output")
    (also per item in ``data[i].error``)
    InvalidParameter / MissingParameter          -> InvalidRequestError(field from message)
    AuthenticationError, AccessDenied, 401/403   -> ProviderAuthError (auth_failed)
    InvalidEndpoint.*, 404                       -> ProviderUnavailableError
    AccountOverdueError, *QuotaExceeded*, 402    -> ProviderOutOfCreditError
    429/5xx                                      -> RetryableError (submit not retried on 5xx)
"""

from __future__ import annotations

import re
from typing import Any

from triptych.engines.base import EngineImage, EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.providers.adapter import CheckResult, HostedEngine, HostedFactory
from triptych.engines.providers.http import Reply, body_excerpt
from triptych.engines.providers.sizes import fit_pixels, size_note

MAX_PIXELS = 16_777_216
MAX_N = 4
_FIELD = re.compile(r"(?:parameter|field)\s*[`'\"]?([a-z_]+)", re.IGNORECASE)


def min_pixels_for(model: str) -> int:
    return 921_600 if "seedream-4-0" in model else 3_686_400


def moderation_side(code: str) -> str | None:
    if "SensitiveContentDetected" not in code:
        return None
    return "output" if code.startswith("Output") else "input"


class BytePlusEngine(HostedEngine):
    provider = "byteplus"
    display = "BytePlus ModelArk"

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n > MAX_N:
            raise InvalidRequestError(f"Seedream makes at most {MAX_N} images per job.",
                                      field="n")
        notes: dict[str, Any] = {}
        asked = (request.width, request.height)
        size = fit_pixels(*asked, multiple=8, min_pixels=min_pixels_for(model),
                          max_pixels=MAX_PIXELS)
        if size != asked:
            notes["size"] = size_note(asked, size)
        seed = request.seed % 2**31
        if seed != request.seed:
            notes["seed"] = f"requested {request.seed}, sent {seed} (API range 0..2^31-1)"
        if request.n > 1:
            notes["n"] = f"{request.n} separate calls with seeds {seed}..{seed + request.n - 1}"
        images: list[EngineImage] = []
        generated = 0
        version = model
        for i in range(request.n):
            body = {
                "model": model,
                "prompt": request.prompt,
                "size": f"{size[0]}x{size[1]}",
                "seed": (seed + i) % 2**31,
                "watermark": False,
                "response_format": "b64_json",
                "sequential_image_generation": "disabled",
            }
            reply = self.http.send("POST", self.http.url("/api/v3/images/generations"),
                                   json_body=body)
            self.raise_for(reply)
            payload = self.json_body(reply)
            items = payload.get("data")
            for item in items if isinstance(items, list) else []:
                err = item.get("error") if isinstance(item, dict) else None
                if isinstance(err, dict):
                    side = moderation_side(str(err.get("code") or ""))
                    info = f"item error {err.get('code')}: {err.get('message')}"
                    raise self.moderated(side, info) if side else self.failed(info)
            got, empty = self.images_from_items(items, request)
            if not got:
                raise self.malformed(f"no image in response ({empty} empty items)")
            images.extend(got)
            usage = payload.get("usage")
            if isinstance(usage, dict) and isinstance(usage.get("generated_images"), int):
                generated += usage["generated_images"]
            version = str(payload.get("model") or version)
        return EngineResult(
            images=images,
            model_version=version,
            provider_cost=f"{generated} generated images" if generated else None,
            notes=notes,
        )

    def _classify(self, reply: Reply) -> EngineError | None:
        body = reply.json_or_none()
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict):
            return None
        code = str(err.get("code") or "")
        message = str(err.get("message") or "")
        detail = body_excerpt(reply, self.http.redact)
        side = moderation_side(code)
        if side:
            return self.moderated(side, detail)
        if code in ("AuthenticationError", "AccessDenied"):
            return self.auth_failed(detail)
        if code.startswith("InvalidEndpoint"):
            return self.unavailable(detail)
        if code == "AccountOverdueError" or "QuotaExceeded" in code:
            return self.out_of_credit(detail)
        if code in ("InvalidParameter", "MissingParameter") or reply.status == 400:
            match = _FIELD.search(message)
            field = match.group(1) if match else None
            if field in ("width", "height"):
                field = "size"
            return InvalidRequestError(f"{self.display} rejected the request as invalid.",
                                       field=field, detail=detail)
        return None

    def _check(self) -> CheckResult:
        return CheckResult(
            self.provider, "unverified",
            "key is set; ModelArk offers no free call to verify it (a generation costs credits)",
        )


factory = HostedFactory(BytePlusEngine)
