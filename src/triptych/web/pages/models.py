"""The models guide: what each model is for, its tier, price and speed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.recommend import INTENTS
from triptych.web.deps import StateDep
from triptych.web.pages.common import TIER_LABELS, MaybeUser, grouped_models, render

router = APIRouter()


FAMILIES = [
    ("diffusion", "Diffusion",
     "Starts from pure noise and removes a little of it at each of many steps, guided by the "
     "prompt. Reliable and detailed; the step count makes it slower."),
    ("distilled-diffusion", "Distilled diffusion",
     "A diffusion model taught to jump in one to four steps, copying a slower teacher. "
     "Near-instant drafts at a small cost in detail."),
    ("autoregressive", "Autoregressive",
     "Writes the picture as a sequence of image tokens, one after another, like a language "
     "model writes words. Strong on layout and on text inside images."),
    ("transformer", "Transformer",
     "An image generator built from transformer blocks end to end; good at following long, "
     "precise prompts."),
    ("diffusion-transformer", "Diffusion transformer (DiT)",
     "Diffusion whose denoiser is a transformer over image patches instead of a U-Net. It "
     "scales well, which is why most of today's top models use it."),
    ("diffusion+llm", "Diffusion + LLM",
     "A large language model reads (and may rewrite) the prompt and conditions a diffusion "
     "decoder; it understands complex instructions and world knowledge."),
]
WHEN_TO_USE = [
    ("Need it now", "the instant tier: about a second, a credit or so"),
    ("Looks like a photo", "BitDance"),
    ("A good general picture", "Flux 2 Pro"),
    ("Text inside the image", "Nano Banana 2"),
    ("Logo, icon, banner, ad or social post", "Recraft V4 Pro"),
    ("Weird, surreal, creative", "Grok Imagine"),
    ("Hero image or final render", "Nano Banana Pro"),
    ("Offline, no key", "the built-in Pico models (trained by Triptych itself)"),
]


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, state: StateDep, principal: MaybeUser) -> Response:
    return render(request, state, "models.html", principal, groups=grouped_models(state),
                  families=FAMILIES, when=WHEN_TO_USE, tier_labels=TIER_LABELS,
                  intents=INTENTS)
