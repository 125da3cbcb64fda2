"""Drawing a captcha (PNG, Pillow) and saying it (WAV from the committed clips, with noise).

Both are drawn from the challenge's seed, so fetching the same image again gives the same picture: averaging many
renderings of one answer would otherwise wash the noise out.
"""
from __future__ import annotations

import array
import functools
import io
import math
import random
import wave

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from identity.captcha.make_audio import SAMPLE_RATE, clip_path

WIDTH, HEIGHT = 220, 80
FONT_SIZE = 44


@functools.cache
def _font(size: int):
    return ImageFont.load_default(size=size)


def render_png(answer: str, seed: str) -> bytes:
    rng = random.Random(f"image:{seed}")
    image = Image.new("RGB", (WIDTH, HEIGHT), (rng.randint(235, 255), rng.randint(235, 255), rng.randint(225, 245)))
    draw = ImageDraw.Draw(image)
    for _ in range(6):  # background lines in light ink: noise for a program, nothing for a reader
        draw.line([(rng.randint(0, WIDTH), rng.randint(0, HEIGHT)) for _ in range(2)],
                  fill=(rng.randint(140, 200),) * 3, width=rng.randint(1, 2))
    step = (WIDTH - 30) / len(answer)
    for index, character in enumerate(answer):
        glyph = Image.new("RGBA", (FONT_SIZE + 16, FONT_SIZE + 20), (0, 0, 0, 0))
        ink = (rng.randint(10, 90), rng.randint(10, 90), rng.randint(60, 140), 255)
        ImageDraw.Draw(glyph).text((8, 4), character, font=_font(FONT_SIZE + rng.randint(-4, 4)), fill=ink)
        glyph = glyph.rotate(rng.uniform(-25, 25), resample=Image.BICUBIC, expand=False)
        image.paste(glyph, (int(15 + index * step + rng.randint(-3, 3)), rng.randint(0, 14)), glyph)
    for _ in range(2):  # a stroke across the characters
        points = [(x, HEIGHT / 2 + rng.uniform(-18, 18) * math.sin(x / rng.uniform(15, 30)))
                  for x in range(0, WIDTH, 10)]
        draw.line(points, fill=(rng.randint(40, 110),) * 3, width=2)
    for _ in range(350):
        draw.point((rng.randrange(WIDTH), rng.randrange(HEIGHT)), fill=(rng.randint(0, 160),) * 3)
    image = image.filter(ImageFilter.SMOOTH)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


@functools.cache
def _clip(character: str) -> array.array:
    with wave.open(str(clip_path(character))) as source:
        return array.array("h", source.readframes(source.getnframes()))


def render_wav(answer: str, seed: str) -> bytes:
    """The characters one after the other, each at its own loudness, with silences of varying length and a bed
    of noise: what a person hears clearly and a speech recogniser stumbles on."""
    rng = random.Random(f"audio:{seed}")
    samples = array.array("h")

    def silence(seconds: float) -> None:
        samples.extend([0] * int(SAMPLE_RATE * seconds))

    silence(0.5)
    for character in answer:
        gain = rng.uniform(0.7, 1.0)
        samples.extend(int(value * gain) for value in _clip(character))
        silence(rng.uniform(0.45, 0.8))
    noise = rng.randint(500, 900)
    mixed = array.array("h", (max(-32768, min(32767, value + rng.randint(-noise, noise))) for value in samples))
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(SAMPLE_RATE)
        target.writeframes(mixed.tobytes())
    return out.getvalue()
