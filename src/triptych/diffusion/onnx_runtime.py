"""Serve a network (a U-Net denoiser, the autoencoder's decoder) through ONNX Runtime.

At batch 1-2 on a CPU our small U-Nets are bound by per-operator overhead, not arithmetic:
TorchScript-frozen, a pico-turbo step costs about what a batch-2 CFG step does. ONNX
Runtime's executor has far less overhead per operator and fuses more (its NCHWc convolutions,
GroupNorm and attention fusions), so a step costs less and the CFG batch costs closer to its
arithmetic (``benchmarks/unet_step_cost.py`` times both runtimes side by side). The DiT is
the exception: its attention-heavy graph gains little and its batch-2 step lost, so it stays
on TorchScript (``pipeline.serving_runtime``).

A module is exported once per input-shape signature on first use (static shapes let the graph
optimiser fold and fuse more), with the TorchScript-based exporter. Exporting is the slow part
(~3 s for a U-Net on a slow 2-core machine, against ~0.2 s to build a session), and a CLI
process makes one image and exits, so with a ``cache_dir`` the exported graph is kept on disk
under a digest of everything it depends on (the weights, the input shapes, the torch version);
later processes build their session from it. Nothing is downloaded. The text context's length
is one dynamic axis: pico-lm's follows the prompt's word pieces, and an export per length
would stall new prompts. The batch is the other (``batch_axis``): batch 1, what a lone image
runs, keeps its static graph; one graph with a dynamic batch axis serves every larger batch
(CFG's cond + uncond pair, batches of requests), so a new batch size never stalls on an
export. Numerics match eager PyTorch to ~1e-5.

A graph can instead be served in int8 (``Int8Calibration``): ONNX Runtime's static
quantisation in its QDQ format, int8 weights per output channel and uint8 activations whose
ranges are measured on calibration inputs. The convolution-only decoder then runs on integer
kernels at about half its float cost; the U-Nets do not quantise well (their attention and
normalisation errors compound over the steps), so they stay float.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
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


OPSET = 17

# torch.onnx.export keeps its state in module globals (``GLOBALS.in_onnx_export``, the opset,
# the export mode) and asserts no other export is running: two models exporting from two
# threads at once crash one of them. Exports take this lock; inference does not.
_EXPORT_LOCK = threading.Lock()


@dataclass(frozen=True)
class Int8Calibration:
    """How to quantise a one-input graph to int8: ``inputs()`` gives the calibration batch
    [N, ...] (called only when a graph is quantised, not when a cached one is read), ``tag``
    names that set in the cache digest. With ``float_head`` every node up to and including
    the first convolution stays float: a latent's few channels each carry a lot, and 8-bit
    steps there shift whole regions (the decoder's yellow and white backgrounds lost 0.2 in
    green: 23 dB against the float graph, 49 dB with the head kept float)."""

    inputs: Callable[[], torch.Tensor]
    tag: str
    float_head: bool = True


class OnnxGraph:
    """``module(*tensors) -> tensor`` run by ONNX Runtime sessions with ``threads`` threads
    (``outputs`` > 1: a module returning that many tensors, and so does the call).
    ``dynamic``: input index -> the axes of that input whose size may change between calls
    without a new export. ``cache_dir``: where exported graphs are kept between processes.
    ``int8``: serve the graph quantised (one input); when its calibration cannot run, the
    float graph serves instead, with a warning. ``batch_axis``: axis 0 of every input (and
    output) is the batch; batches above one share one graph with that axis dynamic."""

    def __init__(self, module: torch.nn.Module, threads: int | None = None,
                 dynamic: dict[int, tuple[int, ...]] | None = None,
                 cache_dir: Path | str | None = None, outputs: int = 1,
                 int8: Int8Calibration | None = None, batch_axis: bool = False) -> None:
        self.batch_axis = batch_axis
        self.module = module.eval()
        self.outputs = outputs
        self.int8 = int8
        self.threads = threads or torch.get_num_threads()
        self.dynamic = dynamic or {}
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._sessions: dict[tuple, tuple[Any, list[str]]] = {}
        self._lock = threading.Lock()
        self._weights_digest: str | None = None

    def __call__(self, *tensors: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        tensors = tuple(t.contiguous() for t in tensors)
        key = tuple((tuple(-1 if a in self.dynamic.get(i, ()) or (self.batch_axis and a == 0)
                           else n
                           for a, n in enumerate(t.shape)), t.dtype)
                    for i, t in enumerate(tensors))
        with self._lock:
            if key not in self._sessions:
                self._sessions[key] = self._export(tensors, key)
            session, names = self._sessions[key]
        feeds = {f"in{i}": t.numpy() for i, t in enumerate(tensors)}
        outs = session.run(None, {name: feeds[name] for name in names})
        if self.outputs == 1:
            return torch.from_numpy(outs[0])
        return tuple(torch.from_numpy(o) for o in outs)

    def _cache_path(self, key: tuple) -> Path | None:
        """The file an export for input signature ``key`` is kept in: named by a digest of the
        weights, module class, signature, dynamic axes and torch version, so a changed model
        never reads a stale graph."""
        if self.cache_dir is None:
            return None
        if self._weights_digest is None:
            h = hashlib.sha256()
            for name, value in self.module.state_dict().items():
                h.update(name.encode())
                h.update(value.detach().cpu().contiguous().numpy().tobytes())
            self._weights_digest = h.hexdigest()
        tag = repr((self._weights_digest, type(self.module).__qualname__, key,
                    sorted(self.dynamic.items()), torch.__version__, OPSET, self.outputs)
                   + ((self.int8.tag, self.int8.float_head) if self.int8 is not None else ()))
        return self.cache_dir / f"{hashlib.sha256(tag.encode()).hexdigest()[:32]}.onnx"

    def _graph(self, tensors: tuple[torch.Tensor, ...], key: tuple) -> bytes:
        """The ONNX graph for these inputs: from the cache when there, else exported (and
        cached: written whole, then renamed, so a reader never sees half a file)."""
        path = self._cache_path(key)
        if path is not None and path.is_file():
            return path.read_bytes()
        buf = io.BytesIO()
        outputs = ["out"] if self.outputs == 1 else [f"out{i}" for i in range(self.outputs)]
        dynamic_axes = {f"in{i}": {a: f"d{i}_{a}" for a, n in enumerate(shape) if n == -1}
                        for i, (shape, _) in enumerate(key)}
        batched = any(shape and shape[0] == -1 for shape, _ in key)
        if batched:
            dynamic_axes.update({name: {0: "batch"} for name in outputs})
        with _EXPORT_LOCK, warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation notes
            torch.onnx.export(self.module, tensors, buf,
                              input_names=[f"in{i}" for i in range(len(tensors))],
                              output_names=outputs, opset_version=OPSET, dynamo=False,
                              dynamic_axes={k: v for k, v in dynamic_axes.items() if v})
        graph = buf.getvalue()
        if self.int8 is not None:
            try:
                # a dynamic batch calibrates on the whole set at once: min-max over the same
                # inputs as batch 1's graph, so both graphs get the same int8 ranges
                graph = _quantize(graph, self.int8, 0 if batched else tensors[0].shape[0])
            except Exception as exc:  # noqa: BLE001 - a slower graph, never a failed image
                warnings.warn(f"serving {type(self.module).__name__} in float: int8 "
                              f"calibration failed ({exc})", RuntimeWarning, stacklevel=2)
                return graph  # not cached: a later process may calibrate
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_bytes(graph)
                tmp.replace(path)
            except OSError:
                pass  # a read-only home only costs the next process the export
        return graph

    def _export(self, tensors: tuple[torch.Tensor, ...], key: tuple) -> tuple[Any, list[str]]:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3  # errors only: not its notes on unused constants
        graph = self._graph(tensors, key)
        try:
            session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
        except Exception:  # noqa: BLE001 - a damaged cache file: export afresh
            path = self._cache_path(key)
            if path is None:
                raise
            path.unlink(missing_ok=True)
            session = ort.InferenceSession(self._graph(tensors, key), opts,
                                           providers=["CPUExecutionProvider"])
        # the exporter drops inputs the graph never reads (say, a mask that cannot matter)
        return session, [i.name for i in session.get_inputs()]


def _quantize(graph: bytes, calibration: Int8Calibration, batch: int) -> bytes:
    """``graph`` (one input, batch size ``batch``) quantised to int8 in the QDQ format, with
    activation ranges measured (min-max) on the calibration inputs in batches of ``batch``
    (0: a dynamic batch, all inputs in one)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    inputs = calibration.inputs().float()
    batch = batch or inputs.shape[0]
    if inputs.shape[0] < batch:  # a batch larger than the set: repeat it
        inputs = inputs.repeat((batch + inputs.shape[0] - 1) // inputs.shape[0],
                               *[1] * (inputs.dim() - 1))
    batches = [inputs[i:i + batch].contiguous().numpy()
               for i in range(0, inputs.shape[0] - batch + 1, batch)]

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(batches)

        def get_next(self) -> dict | None:
            feed = next(self._it, None)
            return None if feed is None else {"in0": feed}

    model = onnx.load_from_string(graph)
    head: list[str] = []
    if calibration.float_head:
        for node in model.graph.node:
            head.append(node.name)
            if node.op_type == "Conv":
                break
    root = logging.getLogger()
    level = root.level
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        src, dst = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(graph)
        root.setLevel(logging.ERROR)  # the quantiser's advice to pre-process, on the root logger
        try:
            quantize_static(str(src), str(dst), Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True, weight_type=QuantType.QInt8,
                            activation_type=QuantType.QUInt8, nodes_to_exclude=head)
        finally:
            root.setLevel(level)
        return dst.read_bytes()


class OnnxDenoiser:
    """A text-to-velocity model's call signature, ``(x, t, [ids], context=(ctx, mask))``,
    with ``denoiser(x, t, ctx, mask)`` (its U-Net) run by ONNX Runtime."""

    def __init__(self, model: torch.nn.Module, denoiser: torch.nn.Module,
                 threads: int | None = None, cache_dir: Path | str | None = None) -> None:
        self.model = model
        dynamic = {2: (1,), 3: (1,)}  # ctx, mask: L
        self.graph = OnnxGraph(denoiser, threads, dynamic=dynamic, cache_dir=cache_dir,
                               batch_axis=True)
        # DeepCache's two graphs (``PicoModel.keep`` / ``shallow``), exported on first use
        self._keep = OnnxGraph(_Keep(denoiser), threads, dynamic=dynamic, cache_dir=cache_dir,
                               outputs=2, batch_axis=True)
        self._shallow = OnnxGraph(_Shallow(denoiser), threads, dynamic=dynamic,
                                  cache_dir=cache_dir, batch_axis=True)

    def __call__(self, x, t, ids=None, *, context=None) -> torch.Tensor:  # noqa: ANN001
        ctx, mask = context if context is not None else self.model.encode_text(ids)
        return self.graph(x.float(), t.float().expand(x.shape[0]), ctx.float(), mask)

    def keep(self, x, t, *, context) -> tuple[torch.Tensor, torch.Tensor]:  # noqa: ANN001
        ctx, mask = context
        return self._keep(x.float(), t.float().expand(x.shape[0]), ctx.float(), mask)

    def shallow(self, x, t, deep, *, context) -> torch.Tensor:  # noqa: ANN001
        ctx, mask = context
        return self._shallow(x.float(), t.float().expand(x.shape[0]), ctx.float(), mask,
                             deep.float())


class _Keep(torch.nn.Module):
    """A U-Net's full step that also returns its deep feature: the graph ``keep`` runs."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x, t, ctx, mask):  # noqa: ANN001, ANN201
        return self.unet.forward_keep(x, t, ctx, mask)


class _Shallow(torch.nn.Module):
    """A U-Net's 16x16-only step around a reused deep feature: the graph ``shallow`` runs."""

    def __init__(self, unet: torch.nn.Module) -> None:
        super().__init__()
        self.unet = unet

    def forward(self, x, t, ctx, mask, deep):  # noqa: ANN001, ANN201
        return self.unet.forward_shallow(x, t, ctx, mask, deep)
