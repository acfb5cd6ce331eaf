"""Black Forest Labs (FLUX.2 [pro] ``flux-2-pro``, FLUX.2 [klein] ``flux-2-klein-4b``, and the
other ``/v1/<model>`` endpoints).

Contract: ``POST {base}/v1/{model}`` with ``x-key``; body ``{prompt, width, height, seed,
output_format: "png", safety_tolerance}``. The answer ``{id, polling_url, cost}`` is not the
result: we poll the **returned** ``polling_url`` (it may be a regional host such as
``api.eu.bfl.ai``; the key is sent only to the base URL's host and ``*.bfl.ai``/``*.bfl.ml``)
until a terminal status, then download ``result.sample``, a signed URL valid ~10 minutes,
without credentials.

Sizes: FLUX.2 takes multiples of 16 up to 4 MP (FLUX 1.x: multiples of 32, 256..1440); the
request is rounded/clamped and the change noted. One image per task: ``n > 1`` is refused.
``cost`` from the submit answer goes to ``EngineResult.provider_cost`` (BFL credits).

Statuses:
    Pending                   -> keep polling (``progress`` reported)
    Ready                     -> download result.sample
    Request Moderated         -> ModerationError("input")
    Content Moderated         -> ModerationError("output")
    Error, Failed             -> FatalError (``details`` in the operator detail)
    Task not found, other     -> FatalError
HTTP: 402 -> ProviderOutOfCreditError; 401/403 -> ProviderAuthError (BFL's SDK calls both
an auth error); 404 -> ProviderUnavailableError; 400/422 -> InvalidRequestError (field from
``detail[0].loc``); 429/5xx -> RetryableError. A 429 waits for ``Retry-After``, or, without
one, for the body's ``retry_after`` seconds (``{"error": "rate_limit_exceeded", "message",
"retry_after": 5}``, a shape seen in BFL's own notes but not in its OpenAPI). The submit
creates a billed task, so it is retried only on 429 and refused connections, never on 5xx.
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
    validation_field,
)
from triptych.engines.providers.http import Reply, body_excerpt
from triptych.engines.providers.sizes import fit_pixels, size_note

PENDING = {"Pending", "Queued", "Processing"}


class BflEngine(HostedEngine):
    provider = "bfl"
    display = "Black Forest Labs"
    takes_steps = True
    trusted_suffixes = (".bfl.ai", ".bfl.ml")
    options = {"safety_tolerance": OptionSpec(
        "integer", "How permissive Black Forest Labs' moderation is: 0 strictest, 5 most "
        "permissive (default 2).", 0, 5)}

    def _auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-key": api_key}

    @staticmethod
    def target_problem(target: str) -> str:
        if not target or "/" in target:
            return f"'{target}' is not a BFL model endpoint name"
        return ""

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        model = self.target(request)
        if request.n != 1:
            raise InvalidRequestError(f"{self.display} makes one image per request.", field="n")
        notes: dict[str, Any] = {}
        width, height = self.size_for(model, request, notes)
        body: dict[str, Any] = {
            "prompt": request.prompt,
            "width": width,
            "height": height,
            "seed": request.seed,
            "output_format": "png",
            "safety_tolerance": int(request.options.get("safety_tolerance", 2)),
        }
        if request.steps is not None:
            if model in ("flux-2-flex", "flux-dev", "flux-pro"):
                body["steps"] = request.steps
            else:
                notes["steps"] = f"{model} takes no step count; {request.steps} was ignored"
        submit = self.http.send("POST", self.http.url(f"/v1/{model}"), json_body=body)
        self.raise_for(submit)
        task = self.json_body(submit)
        polling_url = task.get("polling_url")
        task_id = task.get("id")
        if not isinstance(polling_url, str) or not polling_url:
            if not task_id:
                raise self.malformed("submit answer has neither polling_url nor id")
            polling_url = self.http.url(f"/v1/get_result?id={task_id}")

        def check() -> dict[str, Any] | None:
            reply = self.http.send("GET", polling_url)
            self.raise_for(reply)
            state = self.json_body(reply)
            status = state.get("status")
            if status in PENDING:
                if progress is not None and isinstance(state.get("progress"), int | float):
                    progress(max(0.0, min(1.0, float(state["progress"]))), None)
                return None
            return state

        state = self.http.poll(check)
        status = state.get("status")
        info = f"task {task_id}: status {status!r} details={state.get('details')!r}"
        if status == "Request Moderated":
            raise self.moderated("input", info)
        if status == "Content Moderated":
            raise self.moderated("output", info)
        if status != "Ready":
            raise self.failed(info)
        result = state.get("result")
        if not isinstance(result, dict):
            raise self.malformed(f"{info}: result is not an object")
        image = self.image_from_url(result.get("sample"), request=request)
        cost = task.get("cost")
        if isinstance(result.get("seed"), int):
            image.notes["seed"] = result["seed"]
        if progress is not None:
            progress(1.0, None)
        return EngineResult(
            images=[image],
            model_version=model,
            provider_cost=f"{cost} BFL credits" if cost is not None else None,
            notes=notes,
        )

    def size_for(self, model: str, request: GenerationRequest, notes: dict[str, Any]
                 ) -> tuple[int, int]:
        asked = (request.width, request.height)
        if model.startswith("flux-2"):
            size = fit_pixels(*asked, multiple=16, max_pixels=4 * 1024 * 1024, min_side=64)
        else:  # FLUX 1.x: multiples of 32 within 256..1440
            size = fit_pixels(*asked, multiple=32, max_side=1440, min_side=256)
        if size != asked:
            notes["size"] = size_note(asked, size)
        return size

    def _classify(self, reply: Reply) -> EngineError | None:
        if reply.status == 422 or reply.status == 400:
            field = validation_field(reply)
            return InvalidRequestError(f"{self.display} rejected the request as invalid.",
                                       field=field, detail=body_excerpt(reply, self.http.redact))
        return None

    def _body_retry_after(self, reply: Reply) -> float | None:
        body = reply.json_or_none() if reply.status == 429 else None
        seconds = body.get("retry_after") if isinstance(body, dict) else None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            return max(0.0, float(seconds))
        return None

    def _check(self) -> CheckResult:
        # Asking for an unknown task is free: a good key gets "Task not found", a bad one 401/403.
        reply = self.http.send("GET", self.http.url("/v1/get_result?id=triptych-key-check"))
        if reply.status in (401, 403):
            raise self.auth_failed(body_excerpt(reply, self.http.redact))
        if reply.status == 404 or reply.ok:
            return CheckResult(self.provider, "ok", "key accepted (unknown-task probe)")
        self.raise_for(reply)
        return CheckResult(self.provider, "error", body_excerpt(reply, self.http.redact))


factory = HostedFactory(BflEngine)
