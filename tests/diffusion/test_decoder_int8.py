"""The latent decoder in int8: close to the float decoder on latents it was not calibrated on,
kept on disk apart from the float graph, and float again when calibration cannot run."""

from __future__ import annotations

import pytest
import torch

from triptych.diffusion.decoder_int8 import CALIBRATION_SEED, calibration_latents
from triptych.diffusion.onnx_runtime import Int8Calibration
from triptych.diffusion.pipeline import PicoPipeline
from triptych.nets.autoencoder import load_pretrained, psnr
from triptych.nets.pico import PicoBundle, PicoModel
from triptych.nets.text_encoder import Tokenizer
from triptych.nets.unet import UNET_CONFIGS


def _pipe(ae, **kw) -> PicoPipeline:  # noqa: ANN001 - only its decoder is used
    bundle = PicoBundle(PicoModel(UNET_CONFIGS["tiny"]).eval(), Tokenizer.build(["a"], 24))
    return PicoPipeline(bundle, ae, runtime="onnx", **kw)


@pytest.fixture(scope="module")
def ae():  # noqa: ANN201 - the shipped autoencoder
    return load_pretrained().eval()


def test_the_int8_decoder_is_close_to_the_float_one(ae, tmp_path) -> None:
    z = calibration_latents(ae, n=48, seed=CALIBRATION_SEED + 1)  # not the calibration set
    float_pipe = _pipe(ae, decoder_int8=False)
    int8_pipe = _pipe(ae, onnx_cache=tmp_path)
    for batch in (1, 3):  # one graph (a dynamic batch axis) serves both
        want = torch.cat([float_pipe.decode(z[i:i + batch]) for i in range(0, 48, batch)])
        got = torch.cat([int8_pipe.decode(z[i:i + batch]) for i in range(0, 48, batch)])
        worst = psnr(got, want).min().item()  # per image
        assert worst > 40.0, worst
        assert not torch.equal(got, want)  # it is another graph
    assert len(list(tmp_path.glob("*.onnx"))) == 1
    # the next process reads the quantised graphs: no calibration
    again = _pipe(ae, onnx_cache=tmp_path)
    again._decode.int8 = Int8Calibration(lambda: pytest.fail("calibrated again"),
                                         again._decode.int8.tag)
    torch.testing.assert_close(again.decode(z[:1]), int8_pipe.decode(z[:1]))


def test_a_failed_calibration_serves_the_float_decoder(ae, tmp_path) -> None:
    def no_font() -> torch.Tensor:
        raise FileNotFoundError("NotoColorEmoji.ttf")

    pipe = _pipe(ae, onnx_cache=tmp_path)
    pipe._decode.int8 = Int8Calibration(no_font, "broken")
    z = torch.randn(1, 4, 16, 16)
    with pytest.warns(RuntimeWarning, match="float: int8 calibration failed"):
        got = pipe.decode(z)
    torch.testing.assert_close(got, _pipe(ae, decoder_int8=False).decode(z), atol=1e-5, rtol=0)
    assert list(tmp_path.glob("*.onnx")) == []  # not cached: a later process may calibrate
