"""Decode and check what a provider sent back before anyone stores it.

A result is accepted only if it decodes fully as PNG, JPEG or WebP (or, for vector models,
is a plain SVG document) and its dimensions are sane. Anything else is a ``FatalError``
("malformed result"): it is not retried, because the provider already ran (and billed).

SVG previews are rasterised with ``resvg_py`` when it is installed; without it a labelled
placeholder of the right size is drawn, so vector models still work (with a plain preview).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import xml.etree.ElementTree as ET

from PIL import Image, ImageDraw, UnidentifiedImageError

from triptych.engines.errors import FatalError

RASTER_FORMATS = {"PNG", "JPEG", "WEBP"}
MAX_PIXELS = 64 * 1024 * 1024  # 8192 x 8192; larger is a decompression bomb, not an image
MIN_SIDE = 16
MAX_SVG_BYTES = 20 * 1024 * 1024

# Scripts, event handlers and embedded HTML have no place in a generated logo; an SVG carrying
# them is treated as malformed rather than stored and later served to a browser.
_SVG_FORBIDDEN = re.compile(
    rb"<\s*(script|foreignObject|iframe|embed|object)\b|\son[a-z]+\s*=|javascript:|<!DOCTYPE|<!ENTITY",
    re.IGNORECASE,
)


def b64decode(data: str, *, display: str) -> bytes:
    """Strict base64 (tolerating a ``data:`` prefix), raising FatalError when malformed."""
    if data.startswith("data:"):
        data = data.partition(",")[2]
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise FatalError(f"{display} returned a malformed result.",
                         detail=f"invalid base64 image payload: {exc}") from None


def decode_image(data: bytes, *, display: str) -> Image.Image:
    """Bytes -> a fully decoded RGB/RGBA PIL image, or FatalError."""
    malformed = f"{display} returned a malformed result."
    if not data:
        raise FatalError(malformed, detail="empty image payload")
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise FatalError(malformed, detail=f"not a decodable image: {exc}") from None
    if image.format not in RASTER_FORMATS:
        raise FatalError(malformed, detail=f"unexpected image format {image.format}")
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise FatalError(malformed, detail=f"image of {width}x{height} exceeds {MAX_PIXELS} px")
    if min(width, height) < MIN_SIDE:
        raise FatalError(malformed, detail=f"image of {width}x{height} is too small")
    try:
        image.load()  # decode now: a truncated file must fail here, not in the store
    except (OSError, SyntaxError, ValueError) as exc:
        raise FatalError(malformed, detail=f"image does not decode fully: {exc}") from None
    if image.mode not in ("RGB", "RGBA"):
        has_alpha = image.mode in ("LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    return image


def looks_like_svg(data: bytes, content_type: str = "") -> bool:
    if "svg" in content_type:
        return True
    head = data[:512].lstrip().lower()
    return head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:4096])


def decode_svg(data: bytes, *, display: str, width: int, height: int) -> tuple[bytes, Image.Image]:
    """Check an SVG document and return (svg bytes, PNG-able preview of width x height)."""
    malformed = f"{display} returned a malformed result."
    if len(data) > MAX_SVG_BYTES:
        raise FatalError(malformed, detail=f"SVG of {len(data)} bytes is too large")
    if _SVG_FORBIDDEN.search(data):
        raise FatalError(malformed, detail="SVG contains scripts, handlers or a DOCTYPE")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FatalError(malformed, detail=f"SVG does not parse: {exc}") from None
    if root.tag.rsplit("}", 1)[-1] != "svg":
        raise FatalError(malformed, detail=f"root element is {root.tag!r}, not svg")
    return data, rasterise_svg(data, width=width, height=height)


def rasterise_svg(data: bytes, *, width: int, height: int) -> Image.Image:
    try:
        import resvg_py  # optional: a Rust rasteriser shipped as a wheel
    except ImportError:
        return _placeholder(width, height)
    try:
        png = resvg_py.svg_to_bytes(svg_string=data.decode("utf-8"), width=width, height=height)
        preview = Image.open(io.BytesIO(bytes(png)))
        preview.load()
        return preview.convert("RGBA")
    except Exception:  # a rasteriser failure must not lose a valid vector result
        return _placeholder(width, height)


def _placeholder(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (max(width, MIN_SIDE), max(height, MIN_SIDE)), (245, 245, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 0, image.width - 1, image.height - 1], outline=(180, 180, 180), width=2)
    draw.text((10, 10), "SVG (preview unavailable)", fill=(90, 90, 90))
    return image
