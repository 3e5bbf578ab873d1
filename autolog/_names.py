"""Readable run names such as ``brave-otter-417``."""

from __future__ import annotations


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



def generate_run_name() -> str:
    import random

    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(100, 999)}"
