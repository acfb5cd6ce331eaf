"""Text -> image pipeline (diffusers style): tokenizer + text encoder + U-Net + sampler + decoder.

Noise is per image: image i of a request with seed s starts from
``torch.randn(1, 4, 16, 16, generator=torch.Generator().manual_seed(s + i))``, so the same
prompt and seed give the same image whatever ``n`` or the batch it runs in.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from triptych.diffusion.sampler import sample_euler
from triptych.nets.autoencoder import Autoencoder
from triptych.nets.pico import PicoBundle

LATENT_SHAPE = (4, 16, 16)

# on_preview(fraction_done, decoded x0 estimate [B,3,64,64] in [-1,1])
PreviewCallback = Callable[[float, torch.Tensor], None]


def seeded_noise(seeds: Sequence[int]) -> torch.Tensor:
    """One independent noise tensor per seed: [len(seeds), 4, 16, 16]."""
    return torch.cat([
        torch.randn(1, *LATENT_SHAPE, generator=torch.Generator().manual_seed(int(s)))
        for s in seeds
    ])


class PicoPipeline:
    def __init__(self, bundle: PicoBundle, autoencoder: Autoencoder) -> None:
        self.bundle = bundle
        self.ae = autoencoder

    @torch.inference_mode()
    def latents(
        self,
        prompts: Sequence[str],
        noise: torch.Tensor,
        *,
        steps: int | None = None,
        guidance: float | None | str = "default",
        on_x0: Callable[[int, int, torch.Tensor], None] | None = None,
    ) -> torch.Tensor:
        """Sample normalised latents [B,4,16,16] from ``noise`` (same batch size as prompts)."""
        b = self.bundle
        model, tok = b.model, b.tokenizer
        steps = steps or b.sampling.steps
        w = b.sampling.guidance if guidance == "default" else guidance
        context = model.encode_text(tok(list(prompts)))
        null = model.encode_text(tok.null_ids(len(prompts))) if w not in (None, 1.0) else None

        def on_step(i: int, total: int, _t: float, x0: torch.Tensor) -> None:
            if on_x0 is not None:
                on_x0(i, total, x0)

        return sample_euler(model, noise, context, steps=steps, guidance=w, null_context=null,
                            shift=b.sampling.shift, on_step=on_step)

    @torch.inference_mode()
    def decode(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> images [B,3,64,64] in [-1,1]."""
        return self.ae.decode(self.ae.denormalize(latents))

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
    ) -> torch.Tensor:
        """Prompts + per-image seeds -> images [B,3,64,64] in [-1,1]."""
        noise = seeded_noise(seeds)

        def on_x0(i: int, total: int, x0: torch.Tensor) -> None:
            # decoding costs ~4 ms per image: only every few steps, never on the last one
            if on_preview is not None and i < total - 1 and i % preview_every == 0:
                on_preview((i + 1) / total, self.decode(x0))

        z = self.latents(prompts, noise, steps=steps, guidance=guidance, on_x0=on_x0)
        return self.decode(z)
