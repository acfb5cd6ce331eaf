"""The pipeline classes the diffusers engine knows, by the ``_class_name`` in a folder's
``model_index.json``, with the defaults a new catalog entry starts from.

Defaults come from each model's published usage (its model card): the distilled models
(FLUX.2 [klein], FLUX.1 [schnell], SDXL-Turbo, SANA-Sprint) draw in 1 to 4 steps with
little or no guidance; the others need 20 to 30 steps and a guidance scale. A class not
listed here still loads (through ``DiffusionPipeline``) with the generic defaults.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PipelineFamily:
    label: str  # what people call it
    catalog_family: str  # catalog/card.py Family
    steps: int
    max_steps: int
    guidance: float | None  # None: the pipeline takes no guidance scale
    size: int  # native square side
    tier: str = "fast"
    negative_prompt: bool = True  # takes a negative prompt
    distilled: bool = False
    multiple: int = 16  # width and height must be multiples of this


FAMILIES: dict[str, PipelineFamily] = {
    "Flux2KleinPipeline": PipelineFamily("FLUX.2 [klein]", "diffusion-transformer", 4, 8,
                                         1.0, 1024, tier="instant", negative_prompt=False,
                                         distilled=True),
    "Flux2Pipeline": PipelineFamily("FLUX.2 [dev]", "diffusion-transformer", 28, 50, 4.0,
                                    1024, tier="medium", negative_prompt=False),
    "FluxPipeline": PipelineFamily("FLUX.1", "diffusion-transformer", 4, 50, 0.0, 1024,
                                   tier="fast", negative_prompt=False, distilled=True),
    "StableDiffusion3Pipeline": PipelineFamily("Stable Diffusion 3.5", "diffusion-transformer",
                                               28, 50, 3.5, 1024, tier="medium"),
    "StableDiffusionXLPipeline": PipelineFamily("Stable Diffusion XL", "diffusion", 30, 50,
                                                5.0, 1024, tier="fast", multiple=8),
    "SanaPipeline": PipelineFamily("SANA", "diffusion-transformer", 20, 50, 4.5, 1024,
                                   tier="fast", multiple=32),
    "SanaSprintPipeline": PipelineFamily("SANA-Sprint", "diffusion-transformer", 2, 4, 4.5,
                                         1024, tier="instant", negative_prompt=False,
                                         distilled=True, multiple=32),
    "PixArtSigmaPipeline": PipelineFamily("PixArt-Σ", "diffusion-transformer", 20, 50, 4.5,
                                          1024, tier="fast"),
    "StableDiffusionPipeline": PipelineFamily("Stable Diffusion 1.x/2.x", "diffusion", 25,
                                              50, 7.5, 512, multiple=8),
}
GENERIC = PipelineFamily("diffusers pipeline", "diffusion", 25, 50, 5.0, 1024)

# Distilled variants that share a class with their base model, told apart by folder name.
TURBO = {
    "StableDiffusionXLPipeline": PipelineFamily("SDXL-Turbo", "distilled-diffusion", 1, 4, 0.0,
                                                512, tier="instant", distilled=True,
                                                multiple=8),
    "StableDiffusion3Pipeline": PipelineFamily("Stable Diffusion 3.5 Large Turbo",
                                               "distilled-diffusion", 4, 8, 0.0, 1024,
                                               tier="fast", distilled=True),
}


def family_of(class_name: str, folder_name: str = "") -> PipelineFamily:
    name = folder_name.lower()
    if class_name in TURBO and ("turbo" in name or "lightning" in name):
        return TURBO[class_name]
    if class_name == "FluxPipeline" and "dev" in name and "schnell" not in name:
        return PipelineFamily("FLUX.1 [dev]", "diffusion-transformer", 28, 50, 3.5, 1024,
                              tier="medium", negative_prompt=False)
    return FAMILIES.get(class_name, GENERIC)
