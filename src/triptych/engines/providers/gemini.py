"""Google Gemini image models ("Nano Banana": ``gemini-3.1-flash-image-preview``,
``gemini-3-pro-image-preview``, ``gemini-2.5-flash-image``).

Contract: ``POST {base}/v1beta/models/{model}:generateContent`` with ``x-goog-api-key``.
Body: ``contents[{role:user, parts:[{text}]}]`` and ``generationConfig.responseModalities
["TEXT","IMAGE"]`` with ``imageConfig {aspectRatio, imageSize}``. The image comes back in
``candidates[0].content.parts[].inlineData {mimeType, data(base64)}``; parts marked
``thought: true`` are reasoning, not the answer, and are skipped.

Approximations (noted): width x height -> nearest supported ``aspectRatio``; the longer side
picks ``imageSize`` 1K (<= 1024), 2K (<= 2048) or 4K (the Pro model only; 2.5 Flash is 1K
only). No seed field: ignored and noted. One image per call: ``n > 1`` is refused.

A block is an HTTP 200 (the reason code goes into the user's message in plain words):
    promptFeedback.blockReason (no candidates)           -> ModerationError("input")
    finishReason SAFETY, PROHIBITED_CONTENT, BLOCKLIST,
        SPII, RECITATION, IMAGE_SAFETY,
        IMAGE_PROHIBITED_CONTENT, IMAGE_RECITATION       -> ModerationError("output")
    finishReason IMAGE_OTHER, NO_IMAGE, OTHER, MAX_TOKENS,
        or STOP with text only                           -> FatalError (text-only answer)
Errors ``{error:{code, message, status, details:[{"@type": ...}]}}``:
    400 INVALID_ARGUMENT with ``details[]`` ErrorInfo
        ``reason: API_KEY_INVALID``, or a message "API
        key not valid" / "API key expired"              -> ProviderAuthError (auth_failed)
    400 INVALID_ARGUMENT (other)                         -> InvalidRequestError
    401/403 (UNAUTHENTICATED, PERMISSION_DENIED)         -> ProviderAuthError (auth_failed)
    400 FAILED_PRECONDITION, 404                         -> ProviderUnavailableError (billing,
                                                            model)
    429 RESOURCE_EXHAUSTED, 5xx                          -> RetryableError after retries
A 429 says when to come back in ``details[]`` RetryInfo ``retryDelay`` (a protobuf Duration,
``"37s"``, ``"1.5s"``), usually with no Retry-After header: the retries wait that long, up to
the HTTP layer's caps (60 s a wait, 120 s in all), and past them the job fails as retryable
with ``retry_after`` set. The google-genai SDK retries generateContent on 408/429/5xx, so a
5xx submit is retried.
"""

from __future__ import annotations

from typing import Any

from triptych.engines.base import EngineImage, EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.providers.adapter import (
    CheckResult,
    HostedEngine,
    HostedFactory,
    mentions_bad_key,
    seed_ignored_note,
)
from triptych.engines.providers.http import Reply, body_excerpt, parse_duration
from triptych.engines.providers.sizes import nearest_ratio, size_note

BASE_RATIOS = ["1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]
FLASH_31_EXTRA = ["1:4", "4:1", "1:8", "8:1"]
INPUT_BLOCKS = {"SAFETY", "OTHER", "BLOCKLIST", "PROHIBITED_CONTENT", "IMAGE_SAFETY",
                "MODEL_ARMOR", "JAILBREAK"}
OUTPUT_BLOCKS = {"SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
                 "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION"}
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_KEY_REASONS = {"API_KEY_INVALID"}


def google_error(reply: Reply) -> dict[str, Any]:
    """The ``error`` object of a google.rpc.Status body, or {}."""
    body = reply.json_or_none()
    err = body.get("error") if isinstance(body, dict) else None
    return err if isinstance(err, dict) else {}


def error_details(err: dict[str, Any], type_url: str) -> list[dict[str, Any]]:
    details = err.get("details")
    return [d for d in details if isinstance(d, dict) and d.get("@type") == type_url
            ] if isinstance(details, list) else []


def _ratios_for(model: str) -> list[str]:
    return BASE_RATIOS + (FLASH_31_EXTRA if model.startswith("gemini-3.1-flash") else [])


def _sizes_for(model: str) -> list[tuple[str, int]]:
    if model.startswith("gemini-2.5-flash") or "lite" in model:
        return [("1K", 1024)]
    if model.startswith("gemini-3-pro") or model.startswith("gemini-3.1-flash"):
        return [("1K", 1024), ("2K", 2048), ("4K", 4096)]
    return [("1K", 1024), ("2K", 2048)]


class GeminiEngine(HostedEngine):
    provider = "gemini"
    display = "Google Gemini"

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n != 1:
            raise InvalidRequestError(f"{self.display} makes one image per request.", field="n")
        notes: dict[str, Any] = {}
        ratio = nearest_ratio(request.width, request.height, _ratios_for(model))
        longest = max(request.width, request.height)
        sizes = _sizes_for(model)
        image_size = next((name for name, side in sizes if longest <= side), sizes[-1][0])
        notes["size"] = size_note((request.width, request.height),
                                  f"aspectRatio {ratio}, imageSize {image_size}")
        seed_ignored_note(notes, self.display)
        body = {
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
            "generationConfig": {
                "responseModalities": ["TEXT", "IMAGE"],
                "imageConfig": {"aspectRatio": ratio, "imageSize": image_size},
            },
        }
        reply = self.http.send("POST", self.http.url(f"/v1beta/models/{model}:generateContent"),
                               json_body=body, retry_5xx=True)
        self.raise_for(reply)
        payload = self.json_body(reply)
        image = self._image_from(payload, request)
        if isinstance(payload.get("usageMetadata"), dict):
            notes["usage"] = payload["usageMetadata"]
        return EngineResult(images=[image], model_version=str(payload.get("modelVersion") or model),
                            notes=notes)

    def _image_from(self, payload: dict[str, Any], request: GenerationRequest) -> EngineImage:
        feedback = payload.get("promptFeedback") or {}
        candidates = payload.get("candidates") or []
        if isinstance(feedback, dict) and feedback.get("blockReason"):
            block = str(feedback["blockReason"])
            raise self.moderated("input", f"promptFeedback.blockReason={block}", reason=block)
        if not isinstance(candidates, list) or not candidates:
            raise self.malformed("no candidates and no block reason")
        candidate = candidates[0] if isinstance(candidates[0], dict) else {}
        reason = str(candidate.get("finishReason") or "")
        parts = ((candidate.get("content") or {}).get("parts")) or []
        texts: list[str] = []
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, dict) or part.get("thought"):
                continue
            inline = part.get("inlineData") or part.get("inline_data")
            if isinstance(inline, dict) and str(inline.get("mimeType", "image/")).startswith(
                    "image/") and inline.get("data"):
                image = self.image_from_b64(inline["data"], request=request)
                if texts:
                    image.notes["model_text"] = " ".join(texts)[:500]
                return image
            if isinstance(part.get("text"), str):
                texts.append(part["text"])
        message = candidate.get("finishMessage") or ""
        if reason in OUTPUT_BLOCKS:
            raise self.moderated("output", f"finishReason={reason} {message}".strip(),
                                 reason=reason)
        said = " ".join(texts)[:300]
        raise self.malformed(
            f"no image in the answer (finishReason={reason or 'none'}"
            + (f", text: {said!r}" if said else "") + ")"
        )

    def _classify(self, reply: Reply) -> EngineError | None:
        err = google_error(reply)
        if not err:
            return None
        status = str(err.get("status") or "")
        detail = body_excerpt(reply, self.http.redact)
        reasons = {str(d.get("reason")) for d in error_details(err, ERROR_INFO)}
        if (reasons & BAD_KEY_REASONS or status in ("PERMISSION_DENIED", "UNAUTHENTICATED")
                or mentions_bad_key(str(err.get("message") or ""))):
            return self.auth_failed(detail)
        if status == "FAILED_PRECONDITION":
            return self.unavailable(detail)  # e.g. billing not enabled for this region
        if status == "INVALID_ARGUMENT":
            return InvalidRequestError(f"{self.display} rejected the request as invalid.",
                                       detail=detail)
        return None

    def _body_retry_after(self, reply: Reply) -> float | None:
        for info in error_details(google_error(reply), RETRY_INFO):
            delay = parse_duration(info.get("retryDelay"))
            if delay is not None:
                return delay
        return None

    def _check(self) -> CheckResult:
        reply = self.http.send("GET", self.http.url("/v1beta/models?pageSize=1"))
        self.raise_for(reply)
        return CheckResult(self.provider, "ok", "listed models")


factory = HostedFactory(GeminiEngine)
