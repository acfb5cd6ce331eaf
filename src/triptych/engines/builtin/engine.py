"""BuiltinEngine: runs the built-in models (``MODELS``) on the CPU, fully offline.

* Weights load lazily on the first ``generate`` and are cached per process (one model object
  per checkpoint file, shared by every engine instance); sampling holds that model's lock, so
  engines are safe to share between worker threads. The U-Nets and the decoder run on ONNX
  Runtime (``settings.runtime``, default auto: when installed), the DiT and a fallback U-Net
  TorchScript-frozen, either exported or traced on first use per batch shape.
* Seeds: image i of a request uses noise from ``torch.Generator().manual_seed(seed + i)``, so
  the same prompt and seed give the same pixels whatever ``n`` is, alone or batched with
  other requests (``batch_key`` / ``generate_batch``: concurrent requests that sample the
  same way run as one batch, ``engines/batching.py``).
* Size: the models draw 64x64. A larger request (up to the card's max, square or not) gets the
  64x64 image upscaled with LANCZOS, centred and padded to the requested aspect with the
  image's border colour (the world's backgrounds are flat), and ``notes["upscaled_from"] =
  "64x64"``. Smaller than 64 or larger than the card's max is an InvalidRequestError("size").
* Progress: ``progress(fraction, preview)`` every few sampling steps with the decoded clean-
  image estimate (64x64), then once per finished image.
* Options: ``guidance`` (float) overrides the CFG scale of the guided models; pico-turbo has
  guidance baked in and ignores it. ``layout_check`` (bool, default true): the diffusion
  models mirror an image mid-way when its layout contradicts the spatial relation the prompt
  states ("a dog left of a cat"; diffusion/layout_check.py); each image's notes say
  what was decided (``layout_check``). pico-bits draws in raster order and has no such step.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from PIL import Image

from triptych.engines.base import (
    Availability,
    EngineImage,
    EngineResult,
    GenerationRequest,
    ProgressCallback,
)
from triptych.engines.errors import InvalidRequestError, ProviderUnavailableError
from triptych.engines.options import OptionSpec
from triptych.nets.checkpoint import CheckpointError, file_digest, weights_path
from triptych.settings import Settings

if TYPE_CHECKING:
    from triptych.catalog.card import ModelCard
    from triptych.diffusion.pipeline import PicoPipeline

NATIVE = 64  # the models' output size
AUTOENCODER = "autoencoder"
FAST_DECODER = "fast-decoder"
BITS_TOKENIZER = "bits-tokenizer"
WEIGHTS_ENV = "TRIPTYCH_BUILTIN_WEIGHTS"  # Settings.builtin_weights: overrides the packaged


def _pico(model: Path, shared: tuple[Path, ...], runtime: str, onnx_cache: Path | None,
          decoder_int8: bool) -> Any:
    """shared: the autoencoder, then optionally a fast decoder for its latents."""
    from triptych.diffusion.pipeline import PicoPipeline
    from triptych.nets import autoencoder as ae_mod
    from triptych.nets import fast_decoder as fd_mod
    from triptych.nets.pico import load_pico

    ae = ae_mod.load(shared[0])
    decoder = fd_mod.load(shared[1], ae) if len(shared) > 1 else None
    return PicoPipeline(load_pico(model), ae, runtime=runtime, onnx_cache=onnx_cache,
                        decoder_int8=decoder_int8, decoder=decoder)


def _transformer(model: Path, shared: tuple[Path, ...], runtime: str,
                 onnx_cache: Path | None, decoder_int8: bool) -> Any:
    from triptych.diffusion.dit_pipeline import load_dit_pipeline

    return load_dit_pipeline(model, shared[0], runtime=runtime, onnx_cache=onnx_cache,
                             decoder_int8=decoder_int8)


def _bits(model: Path, shared: tuple[Path, ...], _runtime: str, _onnx_cache: Path | None,
          _decoder_int8: bool) -> Any:
    from triptych.autoregressive.pipeline import fast_dtype, load_bits_pipeline

    return load_bits_pipeline(model, shared[0], dtype=fast_dtype())


@dataclass(frozen=True)
class BuiltinModel:
    """How to serve one built-in model: the checkpoints it decodes with and its loader."""

    # the other checkpoints it runs with: the autoencoder (and pico-turbo's cheaper decoder
    # of its latents), or pico-bits' tokenizer
    shared: tuple[str, ...]
    # (model file, shared files, runtime, ONNX graph cache, int8 decoder) -> pipeline
    load: Callable[[Path, tuple[Path, ...], str, Path | None, bool], Any]
    guided: bool = True  # takes a CFG scale (pico-turbo's guidance is baked in)
    layout: bool = True  # a diffusion sampler: can take the layout check
    batches: bool = True  # several requests can sample as one batch (``generate_batch``)
    # the text context's length follows the prompt (pico-lm's word pieces): batches join
    # prompts of one length, as padding a context changes how attention rounds
    context_varies: bool = False


MODELS: dict[str, BuiltinModel] = {
    "pico-turbo": BuiltinModel((AUTOENCODER, FAST_DECODER), _pico, guided=False),
    "pico-diffusion": BuiltinModel((AUTOENCODER,), _pico),
    # its TorchScript DiT costs the same per image at any batch size on a CPU
    # (benchmarks/batching.py): alone, it keeps its exact pixels at no cost
    "pico-dit": BuiltinModel((AUTOENCODER,), _transformer, batches=False),
    "pico-lm": BuiltinModel((AUTOENCODER,), _transformer, context_varies=True),
    "pico-bits": BuiltinModel((BITS_TOKENIZER,), _bits, layout=False),
}
TARGETS = tuple(MODELS)

_cache: dict[tuple[str, str], PicoPipeline] = {}
_cache_lock = threading.Lock()
_run_locks: dict[int, threading.Lock] = {}  # one per cached pipeline: engines share models


def checkpoint_path(name: str) -> Path:
    override = _weights_override()
    return override / f"{name}.safetensors" if override else weights_path(name)


_override_seen: tuple[tuple, Path | None] | None = None


def _weights_override() -> Path | None:
    """``Settings.builtin_weights`` as the environment and ``.env`` say now (tests change it
    per test). Every submit asks whether each model's files are there, and building Settings
    costs milliseconds, a quarter of an API process's CPU per built-in job: the answer is
    kept while the variable, the working directory and ``.env`` stay the same."""
    global _override_seen
    try:
        dotenv = Path(".env").stat().st_mtime_ns
    except OSError:
        dotenv = None
    seen = (os.environ.get(WEIGHTS_ENV), os.getcwd(), dotenv)
    if _override_seen is None or _override_seen[0] != seen:
        _override_seen = (seen, Settings().builtin_weights)
    return _override_seen[1]


def _shown(path: Path) -> str:
    """The path as users see it: relative to the working directory when possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_pipeline(target: str, threads: int | None = None, runtime: str = "auto",
                  onnx_cache: Path | None = None, decoder_int8: bool = True) -> PicoPipeline:
    """The cached pipeline for ``target`` (loads on first use); ProviderUnavailableError names
    the file when a checkpoint is missing or corrupt."""
    spec = MODELS[target]
    model_path = checkpoint_path(target)
    shared = tuple(checkpoint_path(name) for name in spec.shared)
    key = (str(model_path), *map(str, shared), runtime, decoder_int8)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
        if threads:
            torch.set_num_threads(threads)
        try:
            pipe = spec.load(model_path, shared, runtime, onnx_cache, decoder_int8)
        except CheckpointError as exc:
            names = dict(zip(shared, spec.shared, strict=True))
            raise ProviderUnavailableError(
                f"Built-in model '{target}' cannot load: checkpoint {_shown(exc.path)} "
                f"{exc.problem.split(' (')[0]} — run `triptych train "
                f"{names.get(exc.path, target)}`.",
                detail=str(exc),
            ) from exc
        pipe.bundle.meta["fingerprint"] = file_digest(model_path)
        _cache[key] = pipe
        _run_locks[id(pipe)] = threading.Lock()
        return pipe


def _run_lock(pipe: PicoPipeline) -> threading.Lock:
    with _cache_lock:
        return _run_locks.setdefault(id(pipe), threading.Lock())


def clear_cache() -> None:
    global _generation
    with _cache_lock:
        _cache.clear()
        _run_locks.clear()
        _generation += 1


_generation = 0  # bumped by clear_cache: engines then look their pipeline up again


def to_pil(image: torch.Tensor) -> Image.Image:
    """[3,H,W] in [-1,1] -> RGB PIL image."""
    arr = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(arr, "RGB")


def fit_to_size(image: Image.Image, width: int, height: int) -> Image.Image:
    """Upscale a square image (LANCZOS) into width x height, padding the short side with the
    border colour so nothing is cropped or stretched."""
    if (width, height) == image.size:
        return image
    side = min(width, height)
    scaled = image.resize((side, side), Image.LANCZOS)
    if width == height:
        return scaled
    arr = np.asarray(image)
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])  # [4*64, 3]
    fill = tuple(int(v) for v in np.median(border, axis=0))
    canvas = Image.new("RGB", (width, height), fill)
    canvas.paste(scaled, ((width - side) // 2, (height - side) // 2))
    return canvas


class BuiltinEngine:
    def __init__(self, card: ModelCard, settings: Settings | None = None) -> None:
        if card.target not in TARGETS:
            raise ProviderUnavailableError(f"No built-in model called '{card.target}'.")
        self.card = card
        self.target = card.target
        self.threads = settings.torch_threads if settings is not None else None
        self.runtime = settings.runtime if settings is not None else "auto"
        self.decoder_int8 = settings.decoder_int8 if settings is not None else True
        # exported ONNX graphs outlive the process: a CLI call then skips the ~3 s export
        self.onnx_cache = settings.home / "cache" / "onnx" if settings is not None else None
        self._loaded: tuple[tuple, PicoPipeline] | None = None

    # ------------------------------------------------------------------ validation
    def _check(self, request: GenerationRequest) -> int:
        card = self.card
        w, h = request.width, request.height
        if not (NATIVE <= w <= card.max_width and NATIVE <= h <= card.max_height):
            raise InvalidRequestError(
                f"{card.name} draws {NATIVE}x{NATIVE} and can upscale to at most "
                f"{card.max_width}x{card.max_height}; {w}x{h} is not possible.", field="size")
        if not 1 <= request.n <= card.max_n:
            raise InvalidRequestError(f"n must be between 1 and {card.max_n}.", field="n")
        steps = request.steps or card.default_steps or 0
        max_steps = card.max_steps or 50
        if steps and not 1 <= steps <= max_steps:
            raise InvalidRequestError(f"steps must be between 1 and {max_steps}.",
                                      field="steps")
        return steps

    def _guidance(self, request: GenerationRequest) -> float | None | str:
        value = request.options.get("guidance")
        if value is None or not MODELS[self.target].guided:
            return "default"
        try:
            w = float(value)
        except (TypeError, ValueError):
            raise InvalidRequestError("guidance must be a number.", field="guidance") from None
        if not 0.0 <= w <= 20.0:
            raise InvalidRequestError("guidance must be between 0 and 20.", field="guidance")
        return w

    def _layout_check(self, request: GenerationRequest) -> bool:
        value = request.options.get("layout_check", True)
        if not isinstance(value, bool):
            raise InvalidRequestError("layout_check must be true or false.",
                                      field="layout_check")
        return value and MODELS[self.target].layout

    def _pipeline(self) -> PicoPipeline:
        # looking the pipeline up reads the settings for the weights directory: milliseconds,
        # a third of a pico-turbo image; keep it until the cache is cleared or that changes
        seen = (_generation, os.environ.get(WEIGHTS_ENV))
        if self._loaded is None or self._loaded[0] != seen:
            self._loaded = (seen, load_pipeline(self.target, self.threads, self.runtime,
                                                self.onnx_cache, self.decoder_int8))
        return self._loaded[1]

    # ------------------------------------------------------------------ generate
    def generate(
        self, request: GenerationRequest, progress: ProgressCallback | None = None
    ) -> EngineResult:
        steps = self._check(request)
        guidance = self._guidance(request)
        layout = self._layout_check(request)
        pipe = self._pipeline()
        steps = steps or pipe.bundle.sampling.steps
        preview_every = max(1, steps // 4)  # ~4 previews per image; decode costs ~4 ms
        images: list[EngineImage] = []
        decisions: list = []  # one LayoutDecision (or None: no relation) per image
        extra = {"layout_check": True, "layout_log": decisions} if layout else {}
        with _run_lock(pipe):  # one sampling at a time per model, across engine instances
            for i in range(request.n):
                def on_preview(frac: float, x0: torch.Tensor | None, i: int = i) -> None:
                    if progress is not None:
                        progress((i + frac) / request.n, None if x0 is None else to_pil(x0[0]))

                # no callback, no preview decodes (~3 ms each: a third of a turbo image)
                out = pipe([request.prompt], [request.seed + i], steps=steps,
                           guidance=guidance,
                           on_preview=on_preview if progress is not None else None,
                           preview_every=preview_every,
                           **extra, **_preview_wanted(pipe, [progress]))  # [1,3,64,64]
                native = to_pil(out[0])
                images.append(self._image(request, i, native,
                                          decisions[-1] if decisions else None))
                if progress is not None:
                    progress((i + 1) / request.n, native)
        return self._result(request, pipe, images, steps, guidance)

    @staticmethod
    def _image(request: GenerationRequest, i: int, native: Image.Image,
               decision: Any) -> EngineImage:
        """Image i of ``request`` (64x64 ``native``) at the requested size, with its notes."""
        image = fit_to_size(native, request.width, request.height)
        image_notes: dict[str, Any] = {"seed": request.seed + i}
        if decision is not None:
            image_notes["layout_check"] = decision.to_dict()
        return EngineImage(image=image, notes=image_notes)

    def _result(self, request: GenerationRequest, pipe: PicoPipeline,
                images: list[EngineImage], steps: int, guidance: float | None | str
                ) -> EngineResult:
        notes: dict[str, Any] = {}
        if (request.width, request.height) != (NATIVE, NATIVE):
            notes["upscaled_from"] = f"{NATIVE}x{NATIVE}"
            if request.width != request.height:
                notes["padded_to"] = f"{request.width}x{request.height}"
        unknown = pipe.bundle.tokenizer.unknown_words(request.prompt)
        if unknown:
            notes["unknown_words"] = unknown
        if MODELS[self.target].guided:
            w = pipe.bundle.sampling.guidance if guidance == "default" else guidance
            notes["guidance"] = w
        return EngineResult(
            images=images,
            model_version=f"{self.target}@{pipe.bundle.meta.get('fingerprint', '')}",
            steps=steps,
            notes=notes,
        )

    # ------------------------------------------------------------------ batches
    def batch_key(self, request: GenerationRequest) -> Hashable | None:
        """Requests that sample the same way share a batch: same model, steps, guidance and
        layout check (the size is applied to the 64x64 images afterwards). An invalid
        request raises here, as in ``generate``."""
        if not MODELS[self.target].batches:
            return None
        key = (self.target, self._check(request), self._guidance(request),
               self._layout_check(request))
        if not MODELS[self.target].context_varies:
            return key
        return (*key, self._pipeline().context_length(request.prompt))

    def generate_batch(self, requests: list[GenerationRequest],
                       progress: list[ProgressCallback | None]
                       ) -> list[EngineResult | BaseException]:
        """Requests of one ``batch_key`` as one batch: every image of every request is a row,
        with noise from its own seed (the same pixels as alone, within 2 levels of 255: the
        ONNX Runtime graphs round a little differently at other batch sizes). Each request
        hears its own fraction and its first image's preview; a callback that raises drops
        that request's rows from the remaining steps and its exception fills its slot."""
        outcomes: list[EngineResult | BaseException | None] = [None] * len(requests)
        first = requests[0]
        steps, guidance = self._check(first), self._guidance(first)
        layout = self._layout_check(first)
        pipe = self._pipeline()
        steps = steps or pipe.bundle.sampling.steps
        starts, prompts, seeds = [], [], []
        for request in requests:
            starts.append(len(prompts))
            prompts += [request.prompt] * request.n
            seeds += [request.seed + i for i in range(request.n)]
        alive = [True] * len(prompts)

        def fail(r: int, exc: BaseException) -> None:
            outcomes[r] = exc
            for row in range(starts[r], starts[r] + requests[r].n):
                alive[row] = False

        def on_preview(fraction: float, x0: torch.Tensor | None) -> None:
            for r, callback in enumerate(progress):
                if callback is not None and outcomes[r] is None:
                    try:
                        callback(fraction, None if x0 is None else to_pil(x0[starts[r]]))
                    except BaseException as exc:  # noqa: BLE001 - a cancel: this one only
                        fail(r, exc)

        decisions: list = []
        extra = {"layout_check": True, "layout_log": decisions} if layout else {}
        listening = any(callback is not None for callback in progress)
        with _run_lock(pipe):
            out = pipe(prompts, seeds, steps=steps, guidance=guidance,
                       on_preview=on_preview if listening else None,
                       preview_every=max(1, steps // 4), alive=alive,
                       **extra, **_preview_wanted(pipe, progress))
        for r, request in enumerate(requests):
            if outcomes[r] is not None:
                continue
            try:
                rows = range(starts[r], starts[r] + request.n)
                natives = [to_pil(out[row]) for row in rows]
                images = [self._image(request, i, native, decisions[row] if decisions else None)
                          for i, (row, native) in enumerate(zip(rows, natives, strict=True))]
                if progress[r] is not None:
                    progress[r](1.0, natives[0])
                outcomes[r] = self._result(request, pipe, images, steps, guidance)
            except BaseException as exc:  # noqa: BLE001 - its own slot
                outcomes[r] = exc
        return outcomes  # type: ignore[return-value]


def _preview_wanted(pipe: Any, callbacks: list[ProgressCallback | None]) -> dict[str, Any]:
    """The pipeline's ``preview_wanted``: a picture is decoded at a preview point only if a
    listening callback wants one now (``wants_preview``, see engines/base.py); a callback
    without that method always does. Only the diffusion pipelines can skip a decode."""
    from triptych.diffusion.pipeline import PicoPipeline  # imported with the pipelines: cheap

    listening = [c for c in callbacks if c is not None]
    asks = [getattr(c, "wants_preview", None) for c in listening]
    if not listening or None in asks or not isinstance(pipe, PicoPipeline):
        return {}
    return {"preview_wanted": lambda: any(ask() for ask in asks)}


class BuiltinFactory:
    def options(self, card: ModelCard) -> dict[str, OptionSpec]:
        model = MODELS.get(card.target)
        if model is None:
            return {}
        out = {}
        if model.guided:
            out["guidance"] = OptionSpec("number", "How strongly the image follows the prompt "
                                         "(classifier-free guidance scale).", 0.0, 20.0)
        if model.layout:
            out["layout_check"] = OptionSpec("boolean", "Mirror a draft whose layout "
                                             "contradicts a stated left/right/above/below.")
        return out

    def availability(self, card: ModelCard, settings: Settings) -> Availability:
        if card.target not in TARGETS:
            return Availability(False, f"no built-in model called '{card.target}'")
        for name in (card.target, *MODELS[card.target].shared):
            path = checkpoint_path(name)
            if not path.is_file():
                return Availability(
                    False, f"checkpoint {_shown(path)} not found — run `triptych train {name}`")
        return Availability(True)

    def create(self, card: ModelCard, settings: Settings) -> BuiltinEngine:
        return BuiltinEngine(card, settings)


factory = BuiltinFactory()
