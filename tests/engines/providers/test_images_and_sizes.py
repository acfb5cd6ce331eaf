"""Result checks (decode, dimensions, SVG) and size snapping."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from provider_fakes import SVG, png_bytes

from triptych.engines.errors import FatalError
from triptych.engines.providers import images
from triptych.engines.providers.sizes import fit_pixels, nearest_ratio, nearest_size


def test_decode_accepts_png_jpeg_webp() -> None:
    for fmt in ("PNG", "JPEG", "WEBP"):
        buf = io.BytesIO()
        Image.new("RGB", (32, 32), (1, 2, 3)).save(buf, format=fmt)
        assert images.decode_image(buf.getvalue(), display="X").size == (32, 32)


def test_decode_converts_palette_images() -> None:
    buf = io.BytesIO()
    Image.new("P", (32, 32)).save(buf, format="PNG")
    assert images.decode_image(buf.getvalue(), display="X").mode == "RGB"


@pytest.mark.parametrize("data", [b"", b"GIF89a....", png_bytes()[:60]])
def test_decode_rejects_garbage(data: bytes) -> None:
    with pytest.raises(FatalError):
        images.decode_image(data, display="X")


def test_decode_rejects_other_formats() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, format="BMP")
    with pytest.raises(FatalError) as info:
        images.decode_image(buf.getvalue(), display="X")
    assert "BMP" in info.value.detail


def test_decode_rejects_tiny_and_huge_dimensions() -> None:
    with pytest.raises(FatalError):
        images.decode_image(png_bytes(4, 4), display="X")
    buf = io.BytesIO()
    Image.new("1", (9000, 8000)).save(buf, format="PNG")  # 72 MP, a few KB compressed
    with pytest.raises(FatalError) as info:
        images.decode_image(buf.getvalue(), display="X")
    assert "exceeds" in info.value.detail


def test_svg_preview_has_the_requested_size() -> None:
    svg, preview = images.decode_svg(SVG, display="X", width=128, height=128)
    assert svg == SVG and preview.size == (128, 128)


@pytest.mark.parametrize("bad", [
    b"<svg xmlns='http://www.w3.org/2000/svg' onload='x()'/>",
    b"<!DOCTYPE svg [<!ENTITY a 'b'>]><svg xmlns='http://www.w3.org/2000/svg'/>",
    b"<html/>",
    b"<svg",
])
def test_svg_rejects_unsafe_or_broken(bad: bytes) -> None:
    with pytest.raises(FatalError):
        images.decode_svg(bad, display="X", width=64, height=64)


def test_placeholder_when_rasteriser_fails() -> None:
    preview = images.rasterise_svg(b"<svg xmlns='http://www.w3.org/2000/svg' width='0'/>",
                                   width=64, height=32)
    assert preview.size == (64, 32)


def test_ratio_and_size_snapping() -> None:
    assert nearest_ratio(1920, 1080, ["1:1", "16:9", "4:3"]) == "16:9"
    assert nearest_ratio(1000, 2000, ["1:1", "2:1", "1:2"]) == "1:2"
    assert nearest_size(1024, 1536, [(1024, 1024), (1536, 1024), (1024, 1536)]) == (1024, 1536)
    w, h = fit_pixels(5000, 5000, multiple=16, max_pixels=4 * 1024 * 1024)
    assert w * h <= 4 * 1024 * 1024 and w % 16 == 0
    w, h = fit_pixels(512, 512, multiple=8, min_pixels=3_686_400)
    assert w * h >= 3_686_400 and w % 8 == 0
