"""Serve a network (a U-Net denoiser, the autoencoder's decoder) through ONNX Runtime.

At batch 1-2 on a CPU our small U-Nets are bound by per-operator overhead, not arithmetic:
TorchScript-frozen, a pico-turbo step costs about what a batch-2 CFG step does. ONNX
Runtime's executor has far less overhead per operator and fuses more (its NCHWc convolutions,
GroupNorm and attention fusions), so a step costs less and the CFG batch costs closer to its
arithmetic (``benchmarks/unet_step_cost.py`` times both runtimes side by side). The DiT is
the exception: its attention-heavy graph gains little and its batch-2 step lost, so it stays
on TorchScript (``pipeline.serving_runtime``).

A module is exported in memory, once per input-shape signature on first use (static shapes
let the graph optimiser fold and fuse more), with the TorchScript-based exporter; nothing is
written to disk or downloaded. The text context's length is the one dynamic axis: pico-lm's
follows the prompt's word pieces, and an export per length would stall new prompts. Numerics
match eager PyTorch to ~1e-5.
"""

from __future__ import annotations

import io
import threading
import warnings
from typing import Any

import torch


def available() -> bool:
    """Whether the ``onnxruntime`` package is installed (a dependency; a source checkout
    without it falls back to TorchScript)."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxGraph:
    """``module(*tensors) -> tensor`` run by ONNX Runtime sessions with ``threads`` threads.
    ``dynamic``: input index -> the axes of that input whose size may change between calls
    without a new export."""

    def __init__(self, module: torch.nn.Module, threads: int | None = None,
                 dynamic: dict[int, tuple[int, ...]] | None = None) -> None:
        self.module = module.eval()
        self.threads = threads or torch.get_num_threads()
        self.dynamic = dynamic or {}
        self._sessions: dict[tuple, tuple[Any, list[str]]] = {}
        self._lock = threading.Lock()

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor:
        tensors = tuple(t.contiguous() for t in tensors)
        key = tuple((tuple(-1 if a in self.dynamic.get(i, ()) else n
                           for a, n in enumerate(t.shape)), t.dtype)
                    for i, t in enumerate(tensors))
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = self._export(tensors)
            session, names = self._sessions[key]
        feeds = {f"in{i}": t.numpy() for i, t in enumerate(tensors)}
        (out,) = session.run(None, {name: feeds[name] for name in names})
        return torch.from_numpy(out)

    def _export(self, tensors: tuple[torch.Tensor, ...]) -> tuple[Any, list[str]]:
        import onnxruntime as ort

        buf = io.BytesIO()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes
            torch.onnx.export(self.module, tensors, buf,
                              input_names=[f"in{i}" for i in range(len(tensors))],
                              output_names=["out"], opset_version=17, dynamo=False,
                              dynamic_axes={f"in{i}": {a: f"d{i}_{a}" for a in axes}
                                            for i, axes in self.dynamic.items()})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(buf.getvalue(), opts,
                                       providers=["CPUExecutionProvider"])
        # the exporter drops inputs the graph never reads (say, a mask that cannot matter)
        return session, [i.name for i in session.get_inputs()]


class OnnxDenoiser:
    """A text-to-velocity model's call signature, ``(x, t, [ids], context=(ctx, mask))``,
    with ``denoiser(x, t, ctx, mask)`` (its U-Net) run by ONNX Runtime."""

    def __init__(self, model: torch.nn.Module, denoiser: torch.nn.Module,
                 threads: int | None = None) -> None:
        self.model = model
        self.graph = OnnxGraph(denoiser, threads, dynamic={2: (1,), 3: (1,)})  # ctx, mask: L

    def __call__(self, x, t, ids=None, *, context=None) -> torch.Tensor:  # noqa: ANN001
        ctx, mask = context if context is not None else self.model.encode_text(ids)
        return self.graph(x.float(), t.float().expand(x.shape[0]), ctx.float(), mask)
