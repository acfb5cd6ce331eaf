"""The models guide: what each model is good and bad at in plain words, its tier, price and
speed, and an example image of every built-in model. Operator details (engine bindings and
what a hosted model needs to run: keys, base URLs) are for admins only; everyone else reads
"not available on this server; ask your administrator"."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from triptych.service.recommend import INTENTS
from triptych.web.deps import StateDep
from triptych.web.pages.common import TIER_LABELS, MaybeUser, grouped_models, render

router = APIRouter()


FAMILIES = [
    ("diffusion", "Diffusion",
     "Starts from random noise and cleans it up a little at each of many steps, guided by "
     "the prompt. Reliable and detailed; the many steps make it slower."),
    ("distilled-diffusion", "Distilled diffusion",
     "A diffusion model taught to finish in a few steps instead of many, by copying a "
     "slower model. Near-instant drafts at a small cost in detail."),
    ("autoregressive", "Autoregressive",
     "Draws the picture piece by piece, one small patch after another, the way a chat "
     "assistant writes one word after another. Strong on layout."),
    ("transformer", "Transformer",
     "Built from the same kind of network as chat assistants, end to end; good at "
     "following long, precise prompts."),
    ("diffusion-transformer", "Diffusion transformer (DiT)",
     "Diffusion built from the same kind of network as chat assistants, looking at the "
     "picture as a grid of patches. It grows well with size, which is why most of today's "
     "top models use it."),
    ("diffusion+llm", "Diffusion + LLM",
     "A language model reads your prompt (and may rewrite it) and guides a diffusion model; "
     "it understands complex instructions, everyday wording and world knowledge."),
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


EXAMPLES = Path(__file__).resolve().parent.parent / "static" / "examples"
EXAMPLE_PROMPT = "a red circle and a yellow star on a blue background"  # see the script
NOT_HERE = "Not available on this server; ask your administrator."


def example_images() -> dict[str, str]:
    """model id -> URL of its example (made by scripts/make_model_examples.py)."""
    return {path.stem: f"/static/examples/{path.name}" for path in EXAMPLES.glob("*.png")}


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, state: StateDep, principal: MaybeUser) -> Response:
    is_admin = principal is not None and principal.is_admin
    # Engine bindings and setup hints (environment variable names) are for operators.
    operator = [{"id": m["id"], "name": m["name"], "engine": m["engine"],
                 "available": m["available"], "reason": m["unavailable_reason"]}
                for m in state.tp.models()] if is_admin else []
    return render(request, state, "models.html", principal, groups=grouped_models(state),
                  families=FAMILIES, family_names={f: name for f, name, _ in FAMILIES},
                  when=WHEN_TO_USE, tier_labels=TIER_LABELS, intents=INTENTS,
                  examples=example_images(), example_prompt=EXAMPLE_PROMPT,
                  not_here=NOT_HERE, operator=operator)
