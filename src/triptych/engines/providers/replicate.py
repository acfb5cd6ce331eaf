"""Replicate predictions API: any ``owner/name`` model (or ``owner/name:version``).

Contract (base ``https://api.replicate.com``, ``Authorization: Bearer``):
    POST /v1/models/{owner}/{name}/predictions   body {"input": {...}}   (official models)
    POST /v1/predictions                          body {"version", "input"} (``:version`` ids)
        with ``Prefer: wait=<s>`` (answer held until done or the wait lapses) and
        ``Cancel-After`` (Replicate stops, and stops billing, at our polling deadline)
    GET  /v1/predictions/{id}                     poll until terminal
    POST /v1/predictions/{id}/cancel              best effort when our deadline passes
Status: ``starting`` / ``processing`` (poll) and ``succeeded`` / ``failed`` / ``canceled`` /
``aborted`` (terminal). ``output`` is a URI or a list of URIs, downloaded without credentials.

Inputs are model-specific; we send the common ones: ``prompt``, ``seed``, ``aspect_ratio``
(the request snapped to the nearest common ratio, noted), ``num_outputs`` when n > 1, and
``request.options`` passed through (for ``width``/``height``, ``output_format``, ...).

Outcomes:
    failed, error mentions NSFW / sensitive / safety -> ModerationError("output")
    failed (other)                                   -> FatalError
    aborted (deadline hit before start)              -> RetryableError
    canceled                                         -> FatalError
    our polling deadline                             -> RetryableError (prediction canceled)
HTTP (RFC 7807 ``{title, detail, status}``): 401/403 -> ProviderAuthError; 404 ->
ProviderUnavailableError; 402 -> ProviderOutOfCreditError; 422 -> InvalidRequestError(field
from "input.<name>"); 429/5xx -> RetryableError. Replicate's client never retries a create
on 5xx, and neither do we.
"""

from __future__ import annotations

import re
from typing import Any

from triptych.engines.base import EngineImage, EngineResult, GenerationRequest, ProgressCallback
from triptych.engines.errors import EngineError, InvalidRequestError, RetryableError
from triptych.engines.providers.adapter import CheckResult, HostedEngine, HostedFactory
from triptych.engines.providers.http import PollDeadline, Reply, body_excerpt
from triptych.engines.providers.sizes import nearest_ratio, size_note

RATIOS = ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "21:9", "9:21", "5:4", "4:5"]
TERMINAL = {"succeeded", "failed", "canceled", "aborted"}
MODERATION_WORDS = ("nsfw", "sensitive", "safety", "content policy", "flagged")
_INPUT_FIELD = re.compile(r"input\.([a-z_]+)", re.IGNORECASE)


class ReplicateEngine(HostedEngine):
    provider = "replicate"
    display = "Replicate"
    prefer_wait = 60  # seconds Replicate may hold the create call open

    @staticmethod
    def target_problem(target: str) -> str:
        if target.count("/") != 1:
            return f"'{target}' is not a Replicate model (owner/name[:version])"
        return ""

    def _generate(self, request: GenerationRequest, progress: ProgressCallback | None
                  ) -> EngineResult:
        target = self.target(request)
        if self.target_problem(target):
            raise self.unavailable(self.target_problem(target))
        notes: dict[str, Any] = {}
        ratio = nearest_ratio(request.width, request.height, RATIOS)
        notes["size"] = size_note((request.width, request.height), f"aspect_ratio {ratio}")
        model_input: dict[str, Any] = {"prompt": request.prompt, "seed": request.seed,
                                       "aspect_ratio": ratio}
        if request.n > 1:
            model_input["num_outputs"] = request.n
        model_input.update(request.options)
        deadline = max(1, int(self.http.config.poll_deadline))
        wait = min(self.prefer_wait, deadline)
        headers = {"prefer": f"wait={wait}", "cancel-after": f"{deadline}s"}
        model, _, version = target.partition(":")
        if version:
            url = self.http.url("/v1/predictions")
            body: dict[str, Any] = {"version": version, "input": model_input}
        else:
            url = self.http.url(f"/v1/models/{model}/predictions")
            body = {"input": model_input}
        submit = self.http.send("POST", url, json_body=body, headers=headers,
                                timeout=self.http.config.read_timeout + wait)
        self.raise_for(submit)
        prediction = self.json_body(submit)
        pid = prediction.get("id")
        if prediction.get("status") not in TERMINAL:
            if not pid:
                raise self.malformed("prediction has no id")
            prediction = self._wait(str(pid), progress)
        return self._result(prediction, request, target, notes)

    def _wait(self, pid: str, progress: ProgressCallback | None) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            reply = self.http.send("GET", self.http.url(f"/v1/predictions/{pid}"))
            self.raise_for(reply)
            state = self.json_body(reply)
            if state.get("status") in TERMINAL:
                return state
            if progress is not None:
                progress(0.5 if state.get("status") == "processing" else 0.0, None)
            return None

        try:
            return self.http.poll(check)
        except PollDeadline:
            self._cancel(pid)
            raise

    def _cancel(self, pid: str) -> None:
        try:
            self.http.send("POST", self.http.url(f"/v1/predictions/{pid}/cancel"),
                           idempotent=True)
        except EngineError:
            pass  # best effort; Cancel-After stops it on Replicate's side anyway

    def _result(self, prediction: dict[str, Any], request: GenerationRequest, target: str,
                notes: dict[str, Any]) -> EngineResult:
        status = prediction.get("status")
        error = str(prediction.get("error") or "")
        info = f"prediction {prediction.get('id')}: status {status!r} error={error[:300]!r}"
        if status == "failed":
            if any(w in error.lower() for w in MODERATION_WORDS):
                raise self.moderated("output", info)
            raise self.failed(info)
        if status == "aborted":
            raise RetryableError(f"{self.display} could not start the job in time; try again.",
                                 detail=self.http.redact(info))
        if status != "succeeded":
            raise self.failed(info)
        output = prediction.get("output")
        urls = output if isinstance(output, list) else [output]
        if not urls or any(not isinstance(u, str) or not u for u in urls):
            raise self.malformed(f"{info}: output is not a URI or a list of URIs")
        images: list[EngineImage] = [self.image_from_url(u, request=request) for u in urls]
        metrics = prediction.get("metrics")
        if isinstance(metrics, dict) and "predict_time" in metrics:
            notes["predict_time_s"] = metrics["predict_time"]
        return EngineResult(images=images, model_version=str(prediction.get("version") or target),
                            notes=notes)

    def _classify(self, reply: Reply) -> EngineError | None:
        body = reply.json_or_none()
        message = ""
        if isinstance(body, dict):
            message = f"{body.get('title') or ''} {body.get('detail') or ''}"
        detail = body_excerpt(reply, self.http.redact)
        if reply.status == 402 or "insufficient credit" in message.lower():
            return self.out_of_credit(detail)
        if reply.status in (400, 422):
            match = _INPUT_FIELD.search(message)
            field = match.group(1) if match else None
            if field in ("width", "height", "aspect_ratio"):
                field = "size"
            if field == "num_outputs":
                field = "n"
            return InvalidRequestError(f"{self.display} rejected the request as invalid.",
                                       field=field, detail=detail)
        return None

    def _check(self) -> CheckResult:
        reply = self.http.send("GET", self.http.url("/v1/account"))
        self.raise_for(reply)
        body = reply.json_or_none()
        who = body.get("username") if isinstance(body, dict) else None
        return CheckResult(self.provider, "ok", f"account {who}" if who else "account reachable")


factory = HostedFactory(ReplicateEngine)
