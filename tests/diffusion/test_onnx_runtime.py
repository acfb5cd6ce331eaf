"""ONNX Runtime serving: the same numbers as PyTorch, one export per input shape, inputs the
exported graph dropped are not fed."""

from __future__ import annotations

import torch

from triptych.diffusion.onnx_runtime import OnnxDenoiser, OnnxGraph
from triptych.nets.pico import PicoModel
from triptych.nets.unet import UNET_CONFIGS


class Affine(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor, unused: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.lin(x)) * 2


def test_a_graph_matches_pytorch_and_exports_once_per_shape() -> None:
    torch.manual_seed(0)
    net = Affine()
    graph = OnnxGraph(net, threads=1)
    for rows in (1, 4, 1):
        x = torch.randn(rows, 3)
        with torch.no_grad():
            assert torch.allclose(graph(x, torch.zeros(1)), net(x, torch.zeros(1)), atol=1e-6)
    assert len(graph._sessions) == 2  # (1,3) and (4,3); the repeat reused its session
    session, names = graph._sessions[next(iter(graph._sessions))]
    assert names == ["in0"]  # the unread input was dropped by the exporter, and not fed


def test_the_denoiser_keeps_the_models_call_signature() -> None:
    torch.manual_seed(0)
    model = PicoModel(UNET_CONFIGS["tiny"]).eval()
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.05)
    ids = torch.randint(4, 20, (2, model.cfg.text.max_len))
    x, t = torch.randn(2, 4, 16, 16), torch.full((2,), 0.7)
    served = OnnxDenoiser(model, model.unet, threads=1)
    with torch.no_grad():
        want = model(x, t, ids)
        assert torch.allclose(served(x, t, ids), want, atol=1e-4)
        assert torch.allclose(served(x, t, context=model.encode_text(ids)), want, atol=1e-4)
        assert torch.allclose(served(x, torch.tensor(0.7), ids), want, atol=1e-4)  # scalar t
        # a context of another length (pico-lm's follows the prompt) reuses the session
        ctx, mask = model.encode_text(ids)
        short = (ctx[:, :7], mask[:, :7])
        assert torch.allclose(served(x, t, context=short), model(x, t, context=short),
                              atol=1e-4)
    assert len(served.graph._sessions) == 1


def test_exported_graphs_are_kept_for_the_next_process(tmp_path, monkeypatch) -> None:
    torch.manual_seed(0)
    net = Affine()
    x = torch.randn(2, 3)
    with torch.no_grad():
        want = net(x, torch.zeros(1))
    assert torch.allclose(OnnxGraph(net, 1, cache_dir=tmp_path)(x, torch.zeros(1)), want,
                          atol=1e-6)
    files = list(tmp_path.glob("*.onnx"))
    assert len(files) == 1
    # a new process (a new graph object) reads the file instead of exporting again
    exports = []
    real_export = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export",
                        lambda *a, **k: exports.append(1) or real_export(*a, **k))
    assert torch.allclose(OnnxGraph(net, 1, cache_dir=tmp_path)(x, torch.zeros(1)), want,
                          atol=1e-6)
    assert exports == []
    # changed weights never read the old graph
    with torch.no_grad():
        net.lin.bias += 1.0
        changed = net(x, torch.zeros(1))
    assert torch.allclose(OnnxGraph(net, 1, cache_dir=tmp_path)(x, torch.zeros(1)), changed,
                          atol=1e-6)
    assert exports == [1] and len(list(tmp_path.glob("*.onnx"))) == 2
    # a damaged file is exported afresh, not an error
    for f in tmp_path.glob("*.onnx"):
        f.write_bytes(b"not a graph")
    assert torch.allclose(OnnxGraph(net, 1, cache_dir=tmp_path)(x, torch.zeros(1)), changed,
                          atol=1e-6)
    assert exports == [1, 1]


def test_a_batch_axis_serves_every_batch_from_one_graph_row_for_row() -> None:
    """A row's velocity does not depend on the batch it runs in (requests batched together
    give the images they give alone), and a new batch size needs no export."""
    torch.manual_seed(0)
    model = PicoModel(UNET_CONFIGS["tiny"]).eval()
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.05)
    served = OnnxDenoiser(model, model.unet, threads=1)
    ids = torch.randint(4, 20, (8, model.cfg.text.max_len))
    x, t = torch.randn(8, 4, 16, 16), torch.rand(8)
    with torch.no_grad():
        ctx, mask = model.encode_text(ids)
        whole = served(x, t, context=(ctx, mask))
        for rows in (1, 3, 5):
            part = served(x[:rows], t[:rows], context=(ctx[:rows], mask[:rows]))
            assert torch.equal(part, whole[:rows])
    assert len(served.graph._sessions) == 1
