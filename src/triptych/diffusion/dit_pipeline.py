"""Text -> image pipeline for pico-dit and pico-lm: text front-end + DiT + Euler/CFG + decoder.

Same call interface as ``PicoPipeline`` (it subclasses it and only replaces how the text
context and the unconditional context are made):

    pipe = load_dit_pipeline(model_path, autoencoder_path)
    images = pipe(prompts, seeds, steps=None, guidance="default", on_preview=cb,
                  preview_every=4)  # [B,3,64,64] in [-1,1]

* Noise is per image (``seeded_noise``): image i with seed s starts from
  ``torch.Generator().manual_seed(s)`` noise, whatever the batch.
* CFG uses the model's learned null context (``model.null_context``), padded to the prompt
  context's length so cond and uncond run as one batch of 2B in ``sample_euler``.
* ``on_preview(fraction, x0_image)`` receives the decoded clean-image estimate every
  ``preview_every`` steps (never the last), exactly as ``PicoPipeline`` does.
* ``runtime`` (serving): "torchscript" traces and freezes the backbone on first use per
  (batch, context length); "onnx" runs a U-Net backbone (pico-lm) and the decoder with ONNX
  Runtime, while a DiT backbone stays on TorchScript (ONNX Runtime's DiT step was no faster
  at batch 1 and slower at batch 2). Numerics match eager to ~1e-5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from triptych.diffusion.layout_check import LayoutCheck
from triptych.diffusion.pipeline import PicoPipeline, PreviewCallback, seeded_noise
from triptych.nets.autoencoder import Autoencoder
from triptych.nets.lm_connector import FrozenLM
from triptych.nets.pico_dit import TransformerBundle, load_transformer

__all__ = ["DiTPipeline", "PreviewCallback", "load_dit_pipeline", "seeded_noise"]

# pico-lm's contexts are padded to a multiple of this many slots: prompts whose lengths fall
# in one bucket can share a batch (most short prompts fall in one or two)
CONTEXT_BUCKET = 8


class _TracedDiT(torch.nn.Module):
    """The text-to-velocity model's call signature over frozen TorchScript DiTs, one per
    (batch, context length): pico-lm's context length follows the prompt's word pieces."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model
        self.traced: dict[tuple[int, int], torch.jit.ScriptModule] = {}

    def forward(self, x, t, inputs=None, *, context=None):  # noqa: ANN001 - mirrors the model
        ctx, mask = context if context is not None else self.model.encode_text(inputs)
        key = (x.shape[0], ctx.shape[1])
        if key not in self.traced:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(self.model.backbone, (x, t, ctx, mask), check_trace=False)
                self.traced[key] = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        return self.traced[key](x, t, ctx, mask)


class DiTPipeline(PicoPipeline):
    bundle: TransformerBundle

    def __init__(self, bundle: TransformerBundle, autoencoder: Autoencoder, *,
                 runtime: str = "eager", onnx_cache: Path | str | None = None,
                 decoder_int8: bool = True) -> None:
        super().__init__(bundle, autoencoder, runtime=runtime,  # type: ignore[arg-type]
                         onnx_cache=onnx_cache, decoder_int8=decoder_int8)

    def _denoiser(self, model: torch.nn.Module) -> Callable[..., torch.Tensor]:
        from triptych.nets.unet import UNet

        if self.runtime == "onnx" and isinstance(model.backbone, UNet):
            from triptych.diffusion.onnx_runtime import OnnxDenoiser

            return OnnxDenoiser(model, model.backbone, cache_dir=self.onnx_cache)
        return _TracedDiT(model) if self.runtime != "eager" else model

    def _null_context(self, context: tuple[torch.Tensor, torch.Tensor]
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's learned null context, padded to the prompt context's length so cond and
        uncond run as one batch of 2B."""
        return self.bundle.model.null_context(context[0].shape[0], context[0].shape[1])

    def encode(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Each prompt encoded on its own (eager PyTorch rounds a little differently at other
        batch sizes: a prompt's context is then the same alone or in a batch), padded to the
        longest. pico-lm's length follows the prompt's word pieces: it is padded up to a
        multiple of ``CONTEXT_BUCKET`` (masked slots), alone too, so prompts of one bucket
        share a batch with the same context they have alone."""
        encode = self.bundle.model.encode_text
        tokenizer = self.bundle.tokenizer
        parts = [encode(tokenizer([p])) for p in prompts]
        length = self._bucket(max(ctx.shape[1] for ctx, _ in parts))
        if len(parts) == 1 and parts[0][0].shape[1] == length:
            return parts[0]
        ctx = torch.zeros(len(parts), length, parts[0][0].shape[2], dtype=parts[0][0].dtype)
        mask = torch.zeros(len(parts), length, dtype=torch.bool)
        for i, (c, m) in enumerate(parts):
            ctx[i, : c.shape[1]], mask[i, : m.shape[1]] = c[0], m[0]
        return ctx, mask

    def _bucket(self, length: int) -> int:
        if self.bundle.model.kind != "pico-lm":
            return length  # a fixed length (the tokenizer pads)
        return -(-length // CONTEXT_BUCKET) * CONTEXT_BUCKET

    def context_length(self, prompt: str) -> int:
        """The length of the prompt's (padded) text context: batches only join prompts of
        one length, as more padding changes how the backbone's attention rounds."""
        return int(self.encode([prompt])[1].shape[1])

    def layout_check(self, prompts: Sequence[str]) -> LayoutCheck:
        # eager: the traced DiTs are keyed by context length, which the short prompts change
        return LayoutCheck(prompts, self.bundle.model, self.encode)


def load_dit_pipeline(
    model_path: Path | str,
    autoencoder_path: Path | str,
    lm: FrozenLM | None = None,
    *,
    runtime: str = "eager",
    onnx_cache: Path | str | None = None,
    decoder_int8: bool = True,
) -> DiTPipeline:
    """Load a pico-dit or pico-lm checkpoint and the shared autoencoder into a pipeline.

    Raises ``CheckpointError`` (naming the file) when either file is missing or corrupt.
    """
    from triptych.nets import autoencoder as ae_mod

    return DiTPipeline(load_transformer(model_path, lm=lm), ae_mod.load(autoencoder_path),
                       runtime=runtime, onnx_cache=onnx_cache, decoder_int8=decoder_int8)
