"""The captcha: an image of a few characters, with an audio alternative, single use and short-lived."""
