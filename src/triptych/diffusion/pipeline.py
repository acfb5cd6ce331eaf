"""Text -> image pipeline (diffusers style): tokenizer + text encoder + U-Net + sampler + decoder.

Noise is per image: image i of a request with seed s starts from
``torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(s + i))``, so the same
prompt and seed give the same image whatever ``n`` or the batch it runs in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from triptych.diffusion.layout_check import LayoutCheck, LayoutDecision
from triptych.diffusion.sampler import sample_euler
from triptych.nets.autoencoder import Autoencoder
from triptych.nets.pico import PicoBundle

LATENT_SHAPE = (4, 16, 16)

# on_preview(fraction_done, decoded x0 estimate [B,3,64,64] in [-1,1], or None where
# ``preview_wanted`` said no picture is wanted at this point)
PreviewCallback = Callable[[float, torch.Tensor | None], None]

# how the networks run: eager PyTorch (training, tests), TorchScript-frozen, or ONNX Runtime
RUNTIMES = ("eager", "torchscript", "onnx")


def serving_runtime(requested: str = "auto") -> str:
    """The runtime the engine serves U-Nets with: ``auto`` is ONNX Runtime when installed
    (about half the cost of a U-Net step at batch 1-2, ``benchmarks/unet_step_cost.py``), else
    TorchScript."""
    if requested == "auto":
        from triptych.diffusion import onnx_runtime

        return "onnx" if onnx_runtime.available() else "torchscript"
    if requested not in RUNTIMES:
        raise ValueError(f"unknown runtime {requested!r}; known: auto, {', '.join(RUNTIMES)}")
    return requested


def seeded_noise(seeds: Sequence[int]) -> torch.Tensor:
    """One independent noise tensor per seed: [len(seeds), 4, 16, 16]."""
    return torch.cat([
        torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(int(s)))
        for s in seeds
    ])


class _TracedUNet(torch.nn.Module):
    """PicoModel's call signature over TorchScript-frozen U-Nets, one per batch size.

    Freezing folds constants and fuses ops; at batch 1-2 on a CPU the U-Net's cost is mostly
    per-op overhead, so this is a real saving. Numerics match eager to ~1e-6.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        # one frozen graph per (method, batch size): the plain step is keyed by the batch alone
        self.traced: dict[int | tuple, torch.jit.ScriptModule] = {}

    def forward(self, x, t, ids=None, *, context=None):  # noqa: ANN001 - mirrors PicoModel
        ctx, mask = context if context is not None else self.model.encode_text(ids)
        return self._frozen(x.shape[0], self.model.unet.forward, (x, t, ctx, mask))

    def keep(self, x, t, *, context):  # noqa: ANN001, ANN201 - DeepCache's full step
        return self._frozen(("keep", x.shape[0]), self.model.unet.forward_keep,
                            (x, t, *context))

    def shallow(self, x, t, deep, *, context):  # noqa: ANN001, ANN201
        return self._frozen(("shallow", x.shape[0]), self.model.unet.forward_shallow,
                            (x, t, *context, deep))

    def _frozen(self, key: int | tuple, method, inputs: tuple):  # noqa: ANN001, ANN202
        if key not in self.traced:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(_Method(self.model.unet, method).eval(), inputs,
                                         check_trace=False)
                self.traced[key] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return self.traced[key](*inputs)


class _Method(torch.nn.Module):
    """One of a U-Net's methods as a module's forward, for tracing."""

    def __init__(self, unet: torch.nn.Module, method) -> None:  # noqa: ANN001
        super().__init__()
        self.unet, self.method = unet, method

    def forward(self, *inputs):  # noqa: ANN002, ANN201
        return self.method(*inputs)


class _Decode(torch.nn.Module):
    """Normalised latents -> images: the graph ONNX Runtime runs for ``decode``. ``ae``: the
    autoencoder or another decoder of its latents (``decode`` and ``denormalize``)."""

    def __init__(self, ae: torch.nn.Module) -> None:
        super().__init__()
        self.ae = ae

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.ae.decode(self.ae.denormalize(latents))


class PicoPipeline:
    def __init__(self, bundle: PicoBundle, autoencoder: Autoencoder, *,
                 runtime: str = "eager", onnx_cache: Path | str | None = None,
                 decoder_int8: bool = True, decoder: torch.nn.Module | None = None) -> None:
        """``decoder``: what turns latents into images when not the autoencoder's own decoder
        (pico-turbo's ``nets/fast_decoder.FastDecoder``: ``decode`` and ``denormalize``).
        ``runtime`` (serving, not training): "torchscript" traces and freezes the U-Net
        per batch size on first use; "onnx" runs the text encoder, the U-Net and the decoder
        with ONNX Runtime (``onnx_runtime.py``), keeping exported graphs in ``onnx_cache``,
        and with ``decoder_int8`` the decoder quantised to int8 (``decoder_int8.py``)."""
        self.bundle = bundle
        self.ae = autoencoder
        self.decoder = decoder if decoder is not None else autoencoder
        self.runtime = serving_runtime(runtime)
        self.onnx_cache = onnx_cache
        self._null: tuple[torch.Tensor, torch.Tensor] | None = None
        self._net = self._denoiser(bundle.model)
        self._decode = None
        self._text: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
        if self.runtime == "onnx":
            from triptych.diffusion.decoder_int8 import decoder_calibration
            from triptych.diffusion.onnx_runtime import OnnxGraph

            # calibrated on the autoencoder's latents, whichever decoder reads them
            self._decode = OnnxGraph(_Decode(self.decoder), cache_dir=onnx_cache,
                                     int8=decoder_calibration(autoencoder) if decoder_int8
                                     else None, batch_axis=True)

    def _denoiser(self, model: torch.nn.Module) -> Callable[..., torch.Tensor]:
        """What the sampler calls: ``model`` as the runtime runs it."""
        if self.runtime == "onnx":
            from triptych.diffusion.onnx_runtime import OnnxDenoiser

            return OnnxDenoiser(model, model.unet, cache_dir=self.onnx_cache)
        return _TracedUNet(model) if self.runtime == "torchscript" else model

    @torch.inference_mode()
    def latents(
        self,
        prompts: Sequence[str],
        noise: torch.Tensor,
        *,
        steps: int | None = None,
        guidance: float | None | str = "default",
        on_x0: Callable[[int, int, torch.Tensor], None] | None = None,
        layout: LayoutCheck | None = None,
        alive: list[bool] | None = None,
    ) -> torch.Tensor:
        """Sample normalised latents [B,4,16,16] from ``noise`` (same batch size as prompts);
        ``alive``: rows the caller may drop mid-way (``sampler.sample_euler``)."""
        b = self.bundle
        steps = steps or b.sampling.steps
        w = b.sampling.guidance if guidance == "default" else guidance
        context = self.encode(prompts)
        null = self._null_context(context) if w not in (None, 1.0) else None

        def on_step(i: int, total: int, _t: float, x0: torch.Tensor) -> None:
            on_x0(i, total, x0)

        # no listener: the sampler skips the per-step clean-image estimate altogether
        return sample_euler(self._net, noise, context, steps=steps, guidance=w, null_context=null,
                            shift=b.sampling.shift,
                            # a sampling hint: models without DeepCache's two calls ignore it
                            reuse_deep=b.sampling.reuse_deep if hasattr(self._net, "keep") else 0,
                            reuse_tail=b.sampling.reuse_tail if hasattr(self._net, "keep") else 0,
                            guidance_interval=(b.sampling.guidance_t_min,
                                               b.sampling.guidance_t_max),
                            on_step=on_step if on_x0 is not None else None,
                            layout=layout if layout is not None and layout.active else None,
                            alive=alive)

    def encode(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """The text context ([B,L,D], [B,L]) the model attends to."""
        b = self.bundle
        ids = b.tokenizer(list(prompts)).to(next(b.model.parameters()).device)
        if self.runtime == "onnx":
            if self._text is None:
                from triptych.diffusion.onnx_runtime import OnnxGraph

                # a two-layer transformer over 24 tokens: eager PyTorch's per-operator cost
                # was ~0.8 ms of a ~19 ms pico-turbo image, ONNX Runtime's ~0.3 ms
                self._text = OnnxGraph(b.model.text, cache_dir=self.onnx_cache, outputs=2,
                                       batch_axis=True)
            return self._text(ids)
        return b.model.encode_text(ids)

    def layout_check(self, prompts: Sequence[str]) -> LayoutCheck:
        """A layout check for one batch, asking this pipeline's own model (``layout_check``)."""
        return LayoutCheck(prompts, self._net, self.encode)

    def _null_context(self, context: tuple[torch.Tensor, torch.Tensor]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """The [NULL] prompt's encoding, computed once (it never changes) and expanded to the
        batch of ``context``."""
        batch = context[0].shape[0]
        if self._null is None:
            b = self.bundle
            ids = b.tokenizer.null_ids(1).to(next(b.model.parameters()).device)
            self._null = b.model.encode_text(ids)  # [1,L,D], [1,L]
        ctx, mask = self._null
        return ctx.expand(batch, -1, -1), mask.expand(batch, -1)

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> images [B,3,64,64] in [-1,1]."""
        if self._decode is not None:
            return self._decode(latents.float())
        return self.decoder.decode(self.decoder.denormalize(latents))

    @torch.inference_mode()
    def __call__(
        self,
        prompts: Sequence[str],
        seeds: Sequence[int],
        *,
        steps: int | None = None,
        guidance: float | None | str = "default",
        on_preview: PreviewCallback | None = None,
        preview_every: int = 4,
        preview_wanted: Callable[[], bool] | None = None,
        layout_check: bool = False,
        layout_log: list[LayoutDecision | None] | None = None,
        alive: list[bool] | None = None,
    ) -> torch.Tensor:
        """Prompts + per-image seeds -> images [B,3,64,64] in [-1,1].

        ``layout_check``: mirror an image mid-way when its layout contradicts the spatial
        relation its prompt states (``layout_check.py``); each image's decision (None: no
        relation) is appended to ``layout_log``.
        ``alive`` (one flag per image, for a batch of several requests): the caller turns an
        image's flag False (in ``on_preview``, say) to stop sampling it; previews and the
        result keep all B rows, the dropped ones black.
        ``preview_wanted``: asked at each preview point; False skips the decode and calls
        ``on_preview`` with None (the fraction still reported, a cancel still heard).
        """
        noise = seeded_noise(seeds)
        check = self.layout_check(prompts) if layout_check else None

        def full(images: torch.Tensor, rows: list[int]) -> torch.Tensor:
            """Images of ``rows`` -> all B rows (the others black)."""
            if len(rows) == len(prompts):
                return images
            out = images.new_zeros(len(prompts), *images.shape[1:])
            out[rows] = images
            return out

        def on_x0(i: int, total: int, x0: torch.Tensor) -> None:
            # decoding costs ~4 ms per image: only every few steps, never on the last one
            if on_preview is not None and i < total - 1 and i % preview_every == 0:
                if preview_wanted is not None and not preview_wanted():
                    on_preview((i + 1) / total, None)
                    return
                rows = [r for r, a in enumerate(alive) if a] if alive else list(range(len(x0)))
                on_preview((i + 1) / total, full(self.decode(x0), rows))

        z = self.latents(prompts, noise, steps=steps, guidance=guidance,
                         on_x0=on_x0 if on_preview is not None else None,
                         layout=check, alive=alive)
        if layout_log is not None:
            layout_log.extend(check.decisions if check is not None else [None] * len(prompts))
        if alive is None or all(alive):
            return self.decode(z)
        rows = [r for r, a in enumerate(alive) if a]
        if not rows:
            return z.new_zeros(len(prompts), 3, 64, 64)
        return full(self.decode(z[rows]), rows)
