"""The PNG encoder: what it writes is read back by Pillow as the very pixels given."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.render.png import SIGNATURE, encode_rgba


def test_pillow_reads_back_the_pixels_and_the_dpi() -> None:
    width, height = 37, 11
    rng = random.Random(7)
    pixels = bytes(rng.randrange(256) for _ in range(width * height * 4))
    png = encode_rgba(pixels, width, height, dpi=150)
    assert png.startswith(SIGNATURE)
    image = Image.open(io.BytesIO(png))
    image.load()  # checks every chunk's CRC and the zlib stream
    assert (image.mode, image.size) == ("RGBA", (width, height))
    assert image.tobytes() == pixels
    assert image.info["dpi"] == pytest.approx((150, 150), abs=0.05)


def test_the_same_pixels_give_the_same_bytes() -> None:
    pixels = bytes(range(256)) * 4
    assert encode_rgba(pixels, 16, 16, dpi=96) == encode_rgba(bytearray(pixels), 16, 16, dpi=96)


def test_pixels_that_do_not_fill_the_size_are_refused() -> None:
    with pytest.raises(ValueError, match="are not 4 × 4 RGBA pixels"):
        encode_rgba(bytes(4 * 4 * 4 - 1), 4, 4, dpi=150)
