"""Readable run names such as ``brave-otter-417``."""

from __future__ import annotations

import random

_ADJECTIVES = (
    "agile amber bold brave bright calm clever cosmic crisp curious daring eager fancy fearless "
    "gentle glad golden grand happy honest jolly keen kind lively lucky merry mighty noble "
    "polite proud quick quiet rare serene sharp shiny silent smart sunny swift tidy vivid wise"
).split()
_NOUNS = (
    "ant bat bear bee bird boar cat colt crab crane deer dove duck eagle eel elk finch fox frog "
    "goat hare hawk heron ibis koala lark lion lynx mole moth newt otter owl panda pike puma "
    "quail ram robin seal shrew skunk sloth snail swan tiger toad trout wasp whale wolf wren yak"
).split()

_rng = random.Random()


def generate_run_name() -> str:
    return f"{_rng.choice(_ADJECTIVES)}-{_rng.choice(_NOUNS)}-{_rng.randint(100, 999)}"
