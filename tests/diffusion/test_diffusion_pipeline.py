"""The text-to-image pipeline: per-image seeded noise, shapes, previews, reflow loss."""

from __future__ import annotations

import pytest
import torch

from triptych.diffusion.flow import FlowMatching
from triptych.diffusion.pipeline import PicoPipeline, seeded_noise
from triptych.diffusion.reflow import reflow_loss, teacher_pairs
from triptych.nets.autoencoder import AE_CONFIGS, Autoencoder
from triptych.nets.pico import PicoBundle, PicoModel, SamplingDefaults
from triptych.nets.text_encoder import Tokenizer
from triptych.nets.unet import UNET_CONFIGS


def _pipe(guidance: float | None = 3.0) -> PicoPipeline:
    torch.manual_seed(0)
    model = PicoModel(UNET_CONFIGS["tiny"]).eval()
    torch.nn.init.normal_(model.unet.conv_out.weight, std=0.05)
    tok = Tokenizer.build(["a red circle", "two cats"], max_len=24)
    ae = Autoencoder(AE_CONFIGS["tiny"]).eval()
    return PicoPipeline(PicoBundle(model, tok, SamplingDefaults(steps=4, guidance=guidance)), ae)


def test_seeded_noise_is_per_image() -> None:
    a = seeded_noise([5, 6, 7])
    assert a.shape == (3, 4, 16, 16)
    assert torch.equal(a[1:2], seeded_noise([6]))


def test_same_seed_same_image_whatever_the_batch() -> None:
    pipe = _pipe()
    batch = pipe(["a red circle", "two cats"], [10, 11])
    single = pipe(["two cats"], [11])
    assert batch.shape == (2, 3, 64, 64)
    assert torch.allclose(batch[1:2], single, atol=1e-4)
    assert not torch.allclose(pipe(["two cats"], [12]), single)


def test_previews_every_few_steps() -> None:
    pipe = _pipe()
    seen: list[float] = []
    pipe(["a red circle"], [0], steps=8, on_preview=lambda f, img: seen.append(f),
         preview_every=2)
    assert seen == [1 / 8, 3 / 8, 5 / 8, 7 / 8]  # steps 0, 2, 4, 6; never the last
    assert all(0 < f < 1 for f in seen)


def test_no_guidance_skips_the_uncond_pass() -> None:
    pipe = _pipe(guidance=None)
    calls = []
    model = pipe.bundle.model
    handle = model.unet.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[0]))
    pipe(["a red circle"], [0])
    handle.remove()
    assert calls == [1, 1, 1, 1]


def test_teacher_pairs_and_reflow_loss_backprop() -> None:
    pipe = _pipe()
    noise = seeded_noise([0, 1])
    x0 = teacher_pairs(pipe, ["a red circle", "two cats"], noise, steps=2, guidance=3.0)
    assert x0.shape == (2, 4, 16, 16)
    student = PicoModel(UNET_CONFIGS["tiny"])
    ids = pipe.bundle.tokenizer(["a red circle", "two cats"])
    loss = reflow_loss(student, FlowMatching("u_shaped"), x0, noise, ids,
                       torch.Generator().manual_seed(0))
    loss.backward()
    assert loss.item() > 0


@pytest.mark.parametrize("runtime", ["torchscript", "onnx"])
def test_serving_runtimes_match_eager(runtime: str) -> None:
    eager = _pipe()
    # the float decoder: the same numbers (the int8 one is tested in test_decoder_int8.py)
    served = PicoPipeline(eager.bundle, eager.ae, runtime=runtime, decoder_int8=False)
    for guidance in ("default", None):  # batch 2 (CFG) and batch 1
        a = eager(["two cats"], [3], guidance=guidance)
        b = served(["two cats"], [3], guidance=guidance)
        assert torch.allclose(a, b, atol=1e-4)
    # the layout check runs through the served U-Net too
    log: list = []
    a = eager(["a red circle left of two cats"], [4], layout_check=True, layout_log=log)
    b = served(["a red circle left of two cats"], [4], layout_check=True, layout_log=log)
    assert torch.allclose(a, b, atol=1e-4) and log[0] == log[1]


def test_unknown_runtime_is_refused() -> None:
    eager = _pipe()
    with pytest.raises(ValueError, match="unknown runtime 'tpu'"):
        PicoPipeline(eager.bundle, eager.ae, runtime="tpu")


def test_auto_runtime_is_onnx_when_installed(monkeypatch) -> None:
    from triptych.diffusion import onnx_runtime
    from triptych.diffusion.pipeline import serving_runtime

    assert serving_runtime("auto") == "onnx"  # a dependency: installed by make install
    monkeypatch.setattr(onnx_runtime, "available", lambda: False)
    assert serving_runtime("auto") == "torchscript"


def _dc_pipe(reuse: int, tail: int = 0) -> PicoPipeline:
    torch.manual_seed(0)
    model = PicoModel(UNET_CONFIGS["tiny"]).eval()
    for p in model.parameters():  # away from the zero-initialised residual branches
        p.data.add_(0.05 * torch.randn_like(p))
    tok = Tokenizer.build(["a red circle left of two cats"], max_len=24)
    sampling = SamplingDefaults(steps=4, guidance=None, reuse_deep=reuse, reuse_tail=tail)
    return PicoPipeline(PicoBundle(model, tok, sampling), Autoencoder(AE_CONFIGS["tiny"]).eval())


class _Counting:
    """Wraps a denoiser and records which kind of step each call was."""

    def __init__(self, net) -> None:  # noqa: ANN001
        self.net, self.calls = net, []

    def __call__(self, *a, **k):  # noqa: ANN002, ANN003, ANN204
        self.calls.append("full")
        return self.net(*a, **k)

    def keep(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
        self.calls.append("keep")
        return self.net.keep(*a, **k)

    def shallow(self, *a, **k):  # noqa: ANN002, ANN003, ANN201
        self.calls.append("shallow")
        return self.net.shallow(*a, **k)


def test_deep_cache_reuses_every_other_step_and_changes_the_image() -> None:
    plain, cached = _dc_pipe(0), _dc_pipe(1)
    cached._net = _Counting(cached._net)
    a, b = plain(["two cats"], [3]), cached(["two cats"], [3])
    assert cached._net.calls == ["keep", "shallow", "keep", "shallow"]
    assert a.shape == b.shape and not torch.allclose(a, b)  # the reused steps are not exact
    cached._net.calls.clear()
    cached(["two cats"], [3], steps=2)  # drafts of 1-2 steps always run in full
    assert cached._net.calls == ["full", "full"]


def test_deep_cache_on_the_last_step_only() -> None:
    plain, cached = _dc_pipe(0), _dc_pipe(0, tail=1)
    cached._net = _Counting(cached._net)
    a, b = plain(["two cats"], [3]), cached(["two cats"], [3])
    assert cached._net.calls == ["keep", "keep", "keep", "shallow"]
    assert a.shape == b.shape and not torch.allclose(a, b)
    cached._net.calls.clear()
    cached(["two cats"], [3], guidance=3.0)  # with a CFG pass every step is full
    assert cached._net.calls == ["full"] * 4


def test_a_shallow_step_on_its_own_state_is_the_full_step() -> None:
    model = _dc_pipe(1).bundle.model
    ctx = model.encode_text(torch.randint(4, 9, (2, 24)))
    x, t = torch.randn(2, 4, 16, 16), torch.full((2,), 0.6)
    v, deep = model.keep(x, t, context=ctx)
    assert torch.equal(v, model(x, t, context=ctx)) and deep.shape[-2:] == (16, 16)
    torch.testing.assert_close(model.shallow(x, t, deep, context=ctx), v)
    other = model.shallow(x + 0.5, t, deep, context=ctx)  # a later state, an older feature
    assert not torch.allclose(other, model(x + 0.5, t, context=ctx))


def test_a_layout_rewrite_makes_the_next_step_full() -> None:
    from triptych.diffusion.sampler import sample_euler

    pipe = _dc_pipe(1)
    context = pipe.encode(["a red circle left of two cats"])
    for mirror, fourth in ((False, "shallow"), (True, "keep")):
        net = _Counting(pipe._net)

        def layout(x, t, v_cond, v, mirror=mirror):  # noqa: ANN001, ANN202
            return (x.flip(-1), v.flip(-1)) if mirror else (x.clone(), v)

        # the hook runs at the first step with t <= 0.6: the third of 4, a full one; after a
        # mirrored latent the old deep feature no longer fits the image
        sample_euler(net, torch.randn(1, 4, 16, 16), context, steps=4, reuse_deep=1,
                     layout=layout)
        assert net.calls == ["keep", "shallow", "keep", fourth]


@pytest.mark.parametrize("runtime", ["torchscript", "onnx"])
def test_deep_cache_runs_the_same_on_the_serving_runtimes(runtime: str) -> None:
    eager = _dc_pipe(1)
    served = PicoPipeline(eager.bundle, eager.ae, runtime=runtime, decoder_int8=False)
    a, b = eager(["two cats", "a red circle"], [3, 4]), served(["two cats", "a red circle"], [3, 4])
    torch.testing.assert_close(a, b, atol=1e-4, rtol=0)
