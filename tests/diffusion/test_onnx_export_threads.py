"""Two models exporting to ONNX from two threads at once both get their graph (the
TorchScript exporter keeps its state in globals and refuses a second export mid-flight)."""

from __future__ import annotations

import threading

import torch

from triptych.diffusion.onnx_runtime import OnnxGraph


class Slow(torch.nn.Module):
    """A tiny net whose first trace waits for the other thread's export to have started (or,
    serialised, for a moment), so the two exports overlap every time they can."""

    def __init__(self, inside: threading.Event, other_done: threading.Event) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)
        self.inside, self.other_done = inside, other_done

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export() and not self.inside.is_set():
            self.inside.set()
            self.other_done.wait(timeout=0.5)  # serialised exports never finish in here
        return self.lin(x) * 2


class Other(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.conv(x))


def test_concurrent_exports_of_two_models_both_succeed() -> None:
    torch.manual_seed(0)
    inside, other_done = threading.Event(), threading.Event()
    slow, other = Slow(inside, other_done), Other()
    x, y = torch.randn(2, 3), torch.randn(1, 1, 5, 5)
    results: dict[str, object] = {}

    def export_slow() -> None:
        try:
            results["slow"] = OnnxGraph(slow, threads=1)(x)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            results["slow"] = exc

    def export_other() -> None:
        inside.wait(timeout=10)  # the first export is mid-trace now
        try:
            results["other"] = OnnxGraph(other, threads=1)(y)
        except Exception as exc:  # noqa: BLE001
            results["other"] = exc
        finally:
            other_done.set()

    threads = [threading.Thread(target=export_slow), threading.Thread(target=export_other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert inside.is_set()
    with torch.no_grad():
        assert isinstance(results["slow"], torch.Tensor), results["slow"]
        assert isinstance(results["other"], torch.Tensor), results["other"]
        assert torch.allclose(results["slow"], slow(x), atol=1e-6)
        assert torch.allclose(results["other"], other(y), atol=1e-6)
