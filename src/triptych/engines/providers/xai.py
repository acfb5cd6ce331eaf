"""xAI Grok Imagine (``grok-imagine-image``, ``grok-imagine-image-2.0``).

Contract: ``POST {base}/v1/images/generations`` with ``Authorization: Bearer``. OpenAI-shaped,
but **no ``size``** (xAI answers "Argument not supported: size"): the requested width x height
is snapped to the nearest supported ``aspect_ratio`` and ``resolution`` is ``1k`` or ``2k`` by
the longer side; both approximations are noted. We ask for ``b64_json``; a ``url`` is still
downloaded. No seed field: ignored and noted.

Unrestricted mode: the service passes ``content_mode="unrestricted"`` only for accounts that
may use it. xAI's public image API documents no request field for it (moderation follows the
xAI account's own settings), so the adapter accepts the mode, sends nothing extra, and notes
that the account setting applies. An operator whose account has such a field can name it in
``request.options["xai_unrestricted_field"]`` (sent as ``true``).

Moderation arrives these ways:
    item with ``respect_moderation: false``, a
        ``block_reason``, or no image                    -> dropped; all dropped ->
                                                            ModerationError("output")
    ``block_reason`` on the answer itself                -> ModerationError
    empty ``data``                                       -> ModerationError("output")
    400 flat ``{code, error}`` or ``{error:{message}}`` mentioning moderation:
        "generated image rejected ..."                   -> ModerationError("output")
        otherwise                                        -> ModerationError("input")
A ``block_reason`` goes into the user's message in plain words. xAI documents it on the
answer: "if the request was blocked by input moderation, contains the block reason", so
there it is the input side. One on an item (not documented, read defensively) drops that
image as an output block.

A bad key is a **400** flat ``{"code": "...", "error": "Incorrect API key provided: ..."}``,
not a 401: an error message naming the key (at any 4xx) -> ProviderAuthError, which
``providers check`` reports as ``auth_failed``.
Other errors: 400/422 -> InvalidRequestError; 401/403 -> ProviderAuthError; 404 ->
ProviderUnavailableError; 402/403/429 with a credit/spending message ->
ProviderOutOfCreditError; 429/5xx -> RetryableError. A 5xx submit is not retried (xAI makes
no idempotency promise for generation).
"""

from __future__ import annotations

from typing import Any

from triptych.engines.base import EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError
from triptych.engines.providers.adapter import (
    CheckResult,
    HostedEngine,
    HostedFactory,
    mentions_bad_key,
    seed_ignored_note,
)
from triptych.engines.providers.http import Reply, body_excerpt
from triptych.engines.providers.sizes import nearest_ratio, size_note

ASPECT_RATIOS = ["1:1", "3:4", "4:3", "9:16", "16:9", "2:3", "3:2", "9:19.5", "19.5:9",
                 "9:20", "20:9", "1:2", "2:1"]
MODERATION_WORDS = ("moderation", "safety", "content policy", "inappropriate")
CREDIT_WORDS = ("credit", "spending limit", "billing")


def block_reason(value: Any) -> str:
    """The ``block_reason`` of an answer or an item, or "" when there is none."""
    reason = value.get("block_reason") if isinstance(value, dict) else None
    return str(reason).strip() if reason else ""


def error_message(reply: Reply) -> str:
    """xAI errors come flat ``{code, error: str}`` or OpenAI-style ``{error: {message}}``."""
    body = reply.json_or_none()
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            return str(err.get("message") or err.get("code") or "")
        if isinstance(err, str):
            return err
        return str(body.get("message") or body.get("code") or "")
    return reply.text


class XaiEngine(HostedEngine):
    provider = "xai"
    display = "xAI"
    supports_unrestricted = True
    max_n = 10

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n > self.max_n:
            raise InvalidRequestError(f"{self.display} makes at most {self.max_n} images at once.",
                                      field="n")
        notes: dict[str, Any] = {}
        ratio = nearest_ratio(request.width, request.height, ASPECT_RATIOS)
        resolution = "2k" if max(request.width, request.height) > 1536 else "1k"
        notes["size"] = size_note((request.width, request.height),
                                  f"aspect_ratio {ratio}, resolution {resolution}")
        body: dict[str, Any] = {"model": model, "prompt": request.prompt, "n": request.n,
                                "response_format": "b64_json", "aspect_ratio": ratio,
                                "resolution": resolution}
        if "quality" in request.options:
            body["quality"] = request.options["quality"]
        if request.content_mode == "unrestricted":
            field = request.options.get("xai_unrestricted_field")
            if field:
                body[str(field)] = True
            notes["content_mode"] = (
                "unrestricted: xAI's API has no documented request field; the xAI account's "
                "own moderation settings apply"
                + (f" (sent {field}=true)" if field else "")
            )
        seed_ignored_note(notes, self.display)
        reply = self.http.send("POST", self.http.url("/v1/images/generations"), json_body=body)
        self.raise_for(reply)
        payload = self.json_body(reply)
        items = payload.get("data")
        reasons = [block_reason(i) for i in items] if isinstance(items, list) else []
        if isinstance(items, list):
            kept = [i for i, why in zip(items, reasons, strict=True)
                    if not why and not (isinstance(i, dict)
                                        and i.get("respect_moderation") is False)]
            dropped = len(items) - len(kept)
        else:
            kept, dropped = items, 0
        top = block_reason(payload)
        if top and not any(isinstance(i, dict) and (i.get("b64_json") or i.get("url"))
                           for i in kept or []):
            raise self.moderated("input", f"block_reason={top!r}", reason=top)
        images, empty = self.images_from_items(kept, request)
        reasons = [r for r in [*reasons, top] if r]
        if not images:
            why = reasons[0] if reasons else ""
            raise self.moderated(
                "input" if why and why == top else "output",
                f"no image returned ({dropped} moderated, {empty} empty of {len(items or [])})"
                + (f"; block_reason={sorted(set(reasons))!r}" if reasons else ""),
                reason=why)
        if dropped or empty:
            notes["moderated_images"] = dropped + empty
        if reasons:
            notes["moderation_reasons"] = sorted(set(reasons))
        if isinstance(payload.get("usage"), dict):
            notes["usage"] = payload["usage"]
        return EngineResult(images=images, model_version=str(payload.get("model") or model),
                            notes=notes)

    def _classify(self, reply: Reply) -> EngineError | None:
        message = error_message(reply).lower()
        detail = body_excerpt(reply, self.http.redact)
        if 400 <= reply.status < 500 and mentions_bad_key(message):
            return self.auth_failed(detail)
        if reply.status in (400, 403, 422) and any(w in message for w in MODERATION_WORDS):
            side = "output" if ("generated" in message or "output" in message) else "input"
            return self.moderated(side, detail)
        if reply.status in (402, 403, 429) and any(w in message for w in CREDIT_WORDS):
            return self.out_of_credit(detail)
        if reply.status in (400, 422):
            field = "size" if "size" in message or "aspect" in message else None
            return self.generic_error(reply, field=field)
        return None

    def _check(self) -> CheckResult:
        reply = self.http.send("GET", self.http.url("/v1/models"))
        self.raise_for(reply)
        return CheckResult(self.provider, "ok", "listed models")


factory = HostedFactory(XaiEngine)
