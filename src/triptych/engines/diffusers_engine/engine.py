"""DiffusersEngine: text-to-image pipelines from a local folder (``diffusers:/path``).

* Loading goes through the process's residency manager (``engines/residency.py``): the first
  job loads the folder onto its device, later jobs find it resident; the manager evicts the
  least recently used idle model when a device's budget needs the room.
* Seeds: image i of a request draws its noise from its own ``torch.Generator`` (on the
  pipeline's device for CUDA, else the CPU) seeded ``seed + i``; no global random state is
  read, so a seed gives the same image on the same device whatever else runs, alone or in a
  batch (``generate_batch``: diffusers pipelines take a list of prompts and generators).
* Progress: ``progress(fraction, preview)`` after every step, with a preview every
  ``preview_every`` steps (``previews.py``). A callback that raises stops the request between
  steps (that is how a job is cancelled) and its exception comes back unchanged.
* Errors: a missing or incomplete folder is ProviderUnavailableError naming what is missing;
  running out of device memory is OutOfMemoryError (idle models on that device are unloaded
  first, so a retry has more room); a size, step count or guidance the model cannot take is
  InvalidRequestError. Each settles the job as failed and refunded.
* Batches: requests with equal ``batch_key`` (model, size, steps, guidance, negative prompt)
  run as one pipeline call. A cancelled request stops getting progress and gets its exception
  at once; its rows still ride the batch to the end (a pipeline's batch is fixed once it
  starts), and a batch whose requests are all cancelled stops.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from triptych.catalog.local_model import LocalModel
from triptych.engines.base import (
    Availability,
    EngineImage,
    EngineResult,
    GenerationRequest,
    ProgressCallback,
)
from triptych.engines.diffusers_engine import loading, previews
from triptych.engines.diffusers_engine.families import PipelineFamily, family_of
from triptych.engines.diffusers_engine.folder import (
    FolderProblem,
    PipelineFolder,
    inspect_folder,
    resolve,
)
from triptych.engines.errors import (
    EngineError,
    FatalError,
    InvalidRequestError,
    OutOfMemoryError,
    ProviderUnavailableError,
)
from triptych.engines.options import OptionSpec
from triptych.engines.residency import Residency, release_memory
from triptych.engines.residency import shared as shared_residency

if TYPE_CHECKING:
    from pathlib import Path

    from triptych.catalog.card import ModelCard
    from triptych.settings import Settings

log = logging.getLogger("triptych.diffusers")

_run_locks: dict[str, threading.Lock] = {}  # one pipeline call at a time per model
_run_locks_guard = threading.Lock()


def _run_lock(model_id: str) -> threading.Lock:
    with _run_locks_guard:
        return _run_locks.setdefault(model_id, threading.Lock())


def is_out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class _StopBatch(Exception):
    """Raised inside the step callback when every request of the batch is cancelled."""


@dataclass(frozen=True)
class Plan:
    """What one request asks of the pipeline, checked."""

    steps: int
    guidance: float | None
    negative: str | None


class DiffusersEngine:
    def __init__(self, card: ModelCard, settings: Settings,
                 residency: Residency | None = None) -> None:
        self.card = card
        self.local = card.local or LocalModel()
        self.path: Path = resolve(card.target, settings.resolved_models_dir)
        self.device = loading.resolve_device(self.local.device)
        self.residency = residency or shared_residency(settings)
        self._folder: PipelineFolder | None = None

    # ------------------------------------------------------------------ the folder
    def folder(self) -> PipelineFolder:
        if self._folder is None:
            try:
                self._folder = inspect_folder(self.path)
            except FolderProblem as exc:
                raise ProviderUnavailableError(
                    f"Model '{self.card.id}' cannot load: {exc}.", detail=str(exc)) from None
        return self._folder

    @property
    def family(self) -> PipelineFamily:
        folder = self.folder()
        return family_of(folder.class_name, folder.path.name)

    # ------------------------------------------------------------------ validation
    def plan(self, request: GenerationRequest) -> Plan:
        card, family, local = self.card, self.family, self.local
        w, h = request.width, request.height
        allowed = local.allowed_sizes()
        if allowed and (w, h) not in allowed:
            raise InvalidRequestError(
                f"{card.name} draws {', '.join(local.sizes)}; {w}x{h} is not one of them.",
                field="size")
        if not (card.min_width <= w <= card.max_width and
                card.min_height <= h <= card.max_height):
            raise InvalidRequestError(
                f"{card.name} draws from {card.min_width}x{card.min_height} to "
                f"{card.max_width}x{card.max_height}; {w}x{h} is not possible.", field="size")
        if w % family.multiple or h % family.multiple:
            raise InvalidRequestError(f"{card.name} needs width and height in multiples of "
                                      f"{family.multiple}; {w}x{h} is not.", field="size")
        if not 1 <= request.n <= card.max_n:
            raise InvalidRequestError(f"n must be between 1 and {card.max_n}.", field="n")
        steps = request.steps or card.default_steps or family.steps
        max_steps = card.max_steps or family.max_steps
        if not 1 <= steps <= max_steps:
            raise InvalidRequestError(f"steps must be between 1 and {max_steps}.",
                                      field="steps")
        guidance = request.options.get("guidance")
        if guidance is None:
            guidance = local.guidance if local.guidance is not None else family.guidance
        elif not isinstance(guidance, int | float) or not 0 <= guidance <= local.max_guidance:
            raise InvalidRequestError(f"guidance must be between 0 and {local.max_guidance}.",
                                      field="guidance")
        negative = request.options.get("negative_prompt") if family.negative_prompt else None
        return Plan(steps, None if guidance is None else float(guidance), negative or None)

    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        """Requests that can share one pipeline call; None for one that fails its checks
        (it runs alone and gets its own error)."""
        try:
            plan = self.plan(request)
        except EngineError:
            return None
        return (self.card.id, request.width, request.height, plan.steps, plan.guidance,
                plan.negative)

    # ------------------------------------------------------------------ loading
    def _load(self) -> loading.LoadedPipeline:
        folder = self.folder()
        try:
            return loading.load(folder, self.local, self.device)
        except Exception as exc:
            if is_out_of_memory(exc):
                raise OutOfMemoryError(
                    f"{self.card.name} does not fit in {self.device} memory. Ask the "
                    "operator to enable CPU offload or use a smaller dtype.",
                    detail=repr(exc)) from exc
            raise ProviderUnavailableError(
                f"Model '{self.card.id}' cannot load from {folder.path}: "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                detail=repr(exc)) from exc

    def _estimate(self) -> int:
        size = self.folder().weight_bytes
        return {"none": size, "model": size // 2}.get(self.local.offload, 0)

    # ------------------------------------------------------------------ generate
    def generate(self, request: GenerationRequest,
                 progress: ProgressCallback | None = None) -> EngineResult:
        [outcome] = self.generate_batch([request], [progress])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def generate_batch(self, requests: list[GenerationRequest],
                       progress: list[ProgressCallback | None]
                       ) -> list[EngineResult | BaseException]:
        """One result or exception per request, in order (engines/base.py's contract)."""
        out: list[EngineResult | BaseException | None] = [None] * len(requests)
        groups: dict[Hashable, list[tuple[int, Plan]]] = {}
        for i, request in enumerate(requests):
            try:
                plan = self.plan(request)
            except EngineError as exc:
                out[i] = exc
                continue
            key = (request.width, request.height, plan)
            groups.setdefault(key, []).append((i, plan))
        for members in groups.values():  # one call per compatible group (normally one)
            idx = [i for i, _ in members]
            results = self._run([requests[i] for i in idx], [progress[i] for i in idx],
                                members[0][1])
            for i, result in zip(idx, results, strict=True):
                out[i] = result
        return [r if r is not None else FatalError("no result") for r in out]

    def _run(self, requests: list[GenerationRequest], progress: list[ProgressCallback | None],
             plan: Plan) -> list[EngineResult | BaseException]:
        try:
            with self.residency.use(self.card.id, self.device, self._load,
                                    estimate=self._estimate(),
                                    measure=loading.LoadedPipeline.device_bytes,
                                    unload=loading.unload) as loaded, \
                    _run_lock(self.card.id):
                return self._call(loaded, requests, progress, plan)
        except EngineError as exc:
            return [exc] * len(requests)

    def _call(self, loaded: loading.LoadedPipeline, requests: list[GenerationRequest],
              progress: list[ProgressCallback | None], plan: Plan
              ) -> list[EngineResult | BaseException]:
        pipe = loaded.pipe
        first = requests[0]
        width, height = first.width, first.height
        rows: list[int] = []  # the first batch row of each request
        prompts: list[str] = []
        generators: list[torch.Generator] = []
        gen_device = loading.generator_device(loaded.device)
        for r in requests:
            rows.append(len(prompts))
            for i in range(r.n):
                prompts.append(r.prompt)
                generators.append(torch.Generator(gen_device).manual_seed(r.seed + i))
        failed: dict[int, BaseException] = {}  # request index -> why it stopped
        every = self.local.preview_every

        def on_step(step: int, latents: torch.Tensor) -> None:
            fraction = min(1.0, (step + 1) / plan.steps)
            live = [k for k, cb in enumerate(progress) if cb is not None and k not in failed]
            images = None
            if live and ((step + 1) % every == 0 or step + 1 == plan.steps):
                sub = latents[[rows[k] for k in live]]
                images = dict(zip(live, self._previews(loaded, sub, width, height),
                                  strict=True))
            for k in live:
                try:
                    progress[k](fraction, images.get(k) if images else None)  # type: ignore[misc]
                except BaseException as exc:  # noqa: BLE001 - a cancel is any exception
                    failed[k] = exc
            if len(failed) == len(requests):
                raise _StopBatch

        kwargs = self._call_kwargs(pipe, plan, on_step)
        if plan.negative is not None:
            kwargs["negative_prompt"] = [plan.negative] * len(prompts)
        try:
            with torch.inference_mode():
                output = pipe(prompt=prompts, num_inference_steps=plan.steps, width=width,
                              height=height, generator=generators, output_type="pil",
                              **kwargs)
        except _StopBatch:
            return [failed[k] for k in range(len(requests))]
        except Exception as exc:
            error = self._failure(exc)
            return [failed.get(k) or error for k in range(len(requests))]
        images = output.images
        version = self._version()
        results: list[EngineResult | BaseException] = []
        for k, r in enumerate(requests):
            if k in failed:
                results.append(failed[k])
                continue
            mine = images[rows[k]: rows[k] + r.n]
            notes: dict[str, Any] = {"pipeline": self.folder().class_name,
                                     "device": loaded.device}
            if plan.guidance is not None:
                notes["guidance"] = plan.guidance
            if len(requests) > 1:
                notes["batched_with"] = len(requests) - 1
            results.append(EngineResult(
                images=[EngineImage(image=img.convert("RGB"), notes={"seed": r.seed + i})
                        for i, img in enumerate(mine)],
                model_version=version, steps=plan.steps, notes=notes))
        return results

    def _call_kwargs(self, pipe: Any, plan: Plan, on_step: Any) -> dict[str, Any]:
        import inspect

        params = inspect.signature(pipe.__call__).parameters
        kwargs: dict[str, Any] = {}
        if plan.guidance is not None and "guidance_scale" in params:
            kwargs["guidance_scale"] = plan.guidance
        if "use_resolution_binning" in params:
            kwargs["use_resolution_binning"] = self.local.resolution_binning
        if "clean_caption" in params:  # PixArt: only with the packages it needs (else a warning)
            from diffusers.utils import is_bs4_available, is_ftfy_available

            kwargs["clean_caption"] = is_bs4_available() and is_ftfy_available()
        if "callback_on_step_end" in params:
            def step_end(_pipe: Any, step: int, _t: Any, tensors: dict[str, Any]) -> dict:
                on_step(step, tensors["latents"])
                return tensors

            kwargs["callback_on_step_end"] = step_end
            kwargs["callback_on_step_end_tensor_inputs"] = ["latents"]
        elif "callback" in params:  # older pipelines (PixArt-Σ): callback(step, t, latents)
            kwargs["callback"] = lambda step, _t, latents: on_step(step, latents)
            kwargs["callback_steps"] = 1
        return kwargs

    def _previews(self, loaded: loading.LoadedPipeline, latents: torch.Tensor, width: int,
                  height: int) -> list[Any]:
        if loaded.preview_decoder is not None and latents.ndim == 4:
            return previews.decode(loaded.preview_decoder, latents, width, height)
        return previews.approximate(latents, width, height)

    def _failure(self, exc: Exception) -> EngineError:
        if is_out_of_memory(exc):
            freed = self.residency.evict_idle(self.device, keep=self.card.id)
            release_memory(self.device)  # the failed run's activations, at least
            log.warning("%s ran out of memory on %s (unloaded %s)", self.card.id, self.device,
                        ", ".join(freed) or "nothing")
            return OutOfMemoryError(
                f"{self.card.name} ran out of memory on the server's {self.device}. Try a "
                "smaller size or fewer images, or try again shortly.", detail=repr(exc))
        log.error("%s failed", self.card.id, exc_info=exc)
        return FatalError(f"{self.card.name} failed while drawing.", detail=repr(exc))

    def _version(self) -> str:
        folder = self.folder()
        digest = hashlib.sha256((folder.path / "model_index.json").read_bytes()).hexdigest()
        return f"{folder.path.name}@{digest[:12]}"


class DiffusersFactory:
    """The ``diffusers`` scheme's factory (engines/registry.py)."""

    def __init__(self) -> None:
        self.residency: Residency | None = None  # None: the process's shared manager

    def options(self, card: ModelCard) -> dict[str, OptionSpec]:
        local = card.local or LocalModel()
        out = {"guidance": OptionSpec("number", "How strongly the image follows the prompt "
                                      "(classifier-free guidance scale).", 0.0,
                                      local.max_guidance)}
        out["negative_prompt"] = OptionSpec("text", "What the image should not show (models "
                                            "without negative prompts ignore it).")
        return out

    def availability(self, card: ModelCard, settings: Settings) -> Availability:
        try:
            inspect_folder(resolve(card.target, settings.resolved_models_dir))
        except FolderProblem as exc:
            return Availability(False, str(exc))
        if importlib.util.find_spec("diffusers") is None:
            return Availability(False, "the diffusers package is not installed")
        return Availability(True)

    def create(self, card: ModelCard, settings: Settings) -> DiffusersEngine:
        return DiffusersEngine(card, settings, self.residency)


factory = DiffusersFactory()
