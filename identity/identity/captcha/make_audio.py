"""Regenerate the audio clips of the captcha's characters (one WAV per character of the alphabet), spoken in
French by espeak-ng. They are committed as data: the portal never needs espeak-ng to run, only to remake them.

    apt-get install espeak-ng
    python -m identity.captcha.make_audio

Each clip is espeak-ng's 22,050 Hz output averaged two samples at a time down to 11,025 Hz mono 16 bits (speech
needs no more, and the files stay small).
"""
from __future__ import annotations

import array
import io
import subprocess
import sys
import wave
from pathlib import Path

from identity.captcha.domain import ALPHABET

AUDIO_DIR = Path(__file__).with_name("audio")
SAMPLE_RATE = 11025
# How each character is spoken: espeak reads a lone letter well, but some need a word to be unmistakable.
SPOKEN = {"W": "double vé", "Y": "i grec", "K": "ka", "H": "hache", "J": "ji", "U": "u"}


def clip_path(character: str) -> Path:
    return AUDIO_DIR / f"{character.lower() if character.isalpha() else character}.wav"


def speak(text: str) -> bytes:
    raw = subprocess.run(["espeak-ng", "-v", "fr", "-s", "120", "--stdout", text], check=True,
                         capture_output=True).stdout
    with wave.open(io.BytesIO(raw)) as source:
        assert source.getsampwidth() == 2 and source.getnchannels() == 1
        samples = array.array("h", source.readframes(source.getnframes()))
        rate = source.getframerate()
    step = max(1, rate // SAMPLE_RATE)
    reduced = array.array("h", (sum(samples[i:i + step]) // step for i in range(0, len(samples) - step + 1, step)))
    # espeak pads with silence: trim it, the player adds its own gaps.
    threshold = 300
    start = next((i for i, value in enumerate(reduced) if abs(value) > threshold), 0)
    end = len(reduced) - next((i for i, value in enumerate(reversed(reduced)) if abs(value) > threshold), 0)
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(SAMPLE_RATE)
        target.writeframes(reduced[max(0, start - 200):end + 200].tobytes())
    return out.getvalue()


def main() -> int:
    AUDIO_DIR.mkdir(exist_ok=True)
    for character in ALPHABET:
        clip_path(character).write_bytes(speak(SPOKEN.get(character, character.lower())))
    print(f"{len(ALPHABET)} clips written to {AUDIO_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
