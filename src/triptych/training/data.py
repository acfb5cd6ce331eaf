"""Training data from the procedural world: seeded render streams and cached latent datasets.

* The autoencoder and the bits tokenizer train on an endless seeded stream: batch ``k`` is
  ``render_batch(B, seed=stream_seed(seed, k))``, so a resumed run sees exactly the batches it
  would have seen (``render_stream`` renders it ahead on worker processes for a GPU).
* The diffusion models train on a cache (``runs/data/*.pt``): normalised AE latents (fp16,
  [N,4,16,16], 2 KB each), token ids ([N, L]) and captions, built once per (seed, N, AE).
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import torch

from triptych.nets.autoencoder import Autoencoder
from triptych.nets.pixels import to_tensor
from triptych.nets.text_encoder import Tokenizer
from triptych.training.common import RUNS_DIR

DATA_DIR = RUNS_DIR / "data"


def stream_seed(seed: int, index: int) -> int:
    return (seed * 1_000_003 + index) % 2**31


def render(n: int, seed: int, split: str = "train", kinds: dict[str, float] | None = None
           ) -> tuple[torch.Tensor, list[str], list]:
    """``n`` world renders as float [n,3,64,64] in [-1,1], their captions and scenes
    (``kinds`` overrides the layout weights)."""
    from triptych.world import render_batch

    images, captions, scenes = render_batch(n, seed, split, kinds)
    return to_tensor(images), list(captions), list(scenes)


class _StreamBatches(torch.utils.data.Dataset):
    """Batch k of a seeded render stream: ``render(batch, stream_seed(seed, k))`` images."""

    def __init__(self, batch: int, seed: int) -> None:
        self.batch, self.seed = batch, seed

    def __len__(self) -> int:
        return 2**62

    def __getitem__(self, k: int) -> torch.Tensor:
        return render(self.batch, stream_seed(self.seed, k))[0]


def render_stream(batch: int, seed: int, start: int, workers: int = 0
                  ) -> Iterator[torch.Tensor]:
    """Batches ``start``, ``start + 1``, ... of the endless render stream, in order, each
    [batch,3,64,64]: the same images whatever ``workers`` is. With workers, that many
    processes render ahead (a GPU trains far faster than one core renders, ~1 ms per image)."""
    if workers <= 0:
        k = start
        while True:
            yield render(batch, stream_seed(seed, k))[0]
            k += 1
    loader = torch.utils.data.DataLoader(
        _StreamBatches(batch, seed), batch_size=None, num_workers=workers, prefetch_factor=4,
        sampler=itertools.count(start), pin_memory=torch.cuda.is_available())
    yield from loader


def render_kinds(n: int, seed: int, kinds: dict[str, float]) -> torch.Tensor:
    """``n`` train-split renders with overridden layout weights, float [n,3,64,64] in [-1,1]."""
    import random

    from triptych.world import render as render_scene
    from triptych.world import sample_scene

    rng = random.Random(seed)
    images = np.stack([np.asarray(render_scene(sample_scene(rng, "train", kinds)))
                       for _ in range(n)])
    return to_tensor(images)


def vocab_texts(captions: Iterable[str]) -> list[str]:
    """Everything the tokenizer should know: captions plus the world's word lists, so rare
    words that a finite caption sample misses are still in the vocabulary."""
    from triptych.world import vocab

    texts = list(captions)
    texts += list(vocab.OBJECTS) + list(vocab.COLOURS) + list(vocab.RELATIONS)
    texts += [f'"{w}"' for w in vocab.WORDS]
    for name in ("NUMBER_WORDS",):
        texts += [str(w) for w in getattr(vocab, name, ())]
    plural = getattr(vocab, "plural", None)
    if plural is not None:
        texts += [plural(name) for name in vocab.OBJECTS]
    return texts


def build_tokenizer(seed: int = 0, n_captions: int = 20000, max_len: int = 24) -> Tokenizer:
    from triptych.world.dataset import sample_scenes

    captions = [c for split in ("train", "heldout")
                for _, c in sample_scenes(n_captions // 2, seed + 7, split)]
    return Tokenizer.build(vocab_texts(captions), max_len=max_len)


@torch.no_grad()
def encode_latents(ae: Autoencoder, images: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """float images [N,3,64,64] -> normalised latents [N,4,16,16] (fp32)."""
    out = [ae.normalize(ae.encode(images[i : i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(out)


def _ae_fingerprint(ae: Autoencoder) -> str:
    """Identifies the latent space: encoder weights and latent statistics (not the decoder,
    which may be fine-tuned later without invalidating cached latents)."""
    h = hashlib.sha1()
    state = ae.state_dict()
    for key in sorted(state):
        if key.startswith("encoder.") or key.startswith("latent_"):
            h.update(state[key].float().numpy().tobytes()[:4096])
    return h.hexdigest()[:10]


LATENT_CHUNK = 2048  # renders per cache chunk; chunk k is rendered with stream_seed(seed, k)


def kinds_tag(kinds: dict[str, float] | None) -> str:
    """'' for the world's own layout weights, else e.g. '_kpair0.25-shapes0.35'."""
    if not kinds:
        return ""
    return "_k" + "-".join(f"{k}{v:g}" for k, v in sorted(kinds.items()))


def parse_kinds(text: str) -> dict[str, float]:
    """'pair=0.25,shapes=0.35' -> {'pair': 0.25, 'shapes': 0.35} (the CLI's --kinds)."""
    from triptych.world.scene import KINDS

    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, value = part.partition("=")
        if name not in KINDS:
            raise ValueError(f"unknown layout kind {name!r}; known: {', '.join(KINDS)}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--kinds needs name=weight pairs, got {part!r}") from None
        if not out[name] >= 0 or out[name] == float("inf"):  # also NaN
            raise ValueError(f"layout weight of {name!r} must be a finite number >= 0")
    if not out or sum(out.values()) <= 0:
        raise ValueError("--kinds needs at least one positive weight")
    return out


def latent_cache_path(ae: Autoencoder, n: int, seed: int, split: str = "train",
                      kinds: dict[str, float] | None = None) -> Path:
    """Where ``latent_cache`` keeps (seed, n, split, kinds) for this autoencoder's latents."""
    return DATA_DIR / f"latents_{split}_s{seed}_n{n}{kinds_tag(kinds)}_{_ae_fingerprint(ae)}.pt"


def latent_cache(
    ae: Autoencoder,
    tokenizer: Tokenizer,
    *,
    n: int,
    seed: int,
    split: str = "train",
    chunk: int = LATENT_CHUNK,
    path: Path | None = None,
    kinds: dict[str, float] | None = None,
    log=print,
) -> dict[str, torch.Tensor | list[str]]:
    """Render ``n`` pairs, encode them once, and cache to ``runs/data`` (reused when present).
    ``kinds`` overrides the world's layout weights (e.g. more coloured shapes, less text).

    Returns ``{"latents": fp16 [N,4,16,16], "ids": int64 [N,L], "captions": [str]}``.
    """
    path = path or latent_cache_path(ae, n, seed, split, kinds)
    if path.is_file():
        data = torch.load(path, weights_only=False)
        data["ids"] = tokenizer(data["captions"])  # re-tokenise: the vocab may differ
        return data
    latents, captions = [], []
    for k, start in enumerate(range(0, n, chunk)):
        images, caps, _ = render(min(chunk, n - start), stream_seed(seed, k), split, kinds)
        latents.append(encode_latents(ae, images).half())
        captions += caps
        log(f"cached {start + len(caps)}/{n} latents")
    data = {"latents": torch.cat(latents), "captions": captions}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(data, path)
    data["ids"] = tokenizer(captions)
    return data
