"""Decoding the text line head's columns into a word."""

from __future__ import annotations

import numpy as np

from triptych.judge.readout import decode_columns
from triptych.world.vocab import LETTERS


def columns(*letters: tuple[int, str, float]) -> np.ndarray:
    """[32, 27] probabilities: blank everywhere except (column, letter, P(letter)) entries."""
    probs = np.zeros((32, 27))
    probs[:, 0] = 1.0
    for col, ch, p in letters:
        probs[col, 0] = 1.0 - p
        probs[col, LETTERS.index(ch) + 1] = p
    return probs


def test_one_confident_column_per_letter() -> None:
    assert decode_columns(columns((8, "C", 0.99), (12, "A", 0.98), (16, "T", 0.97))) == "CAT"
    assert decode_columns(columns()) == ""


def test_a_letter_split_over_two_columns_is_read_once() -> None:
    # each half is under the threshold alone; together they are one P
    assert decode_columns(columns((9, "P", 0.12), (10, "P", 0.25), (14, "I", 0.95))) == "PI"
    # two confident neighbours are one letter, not a double letter
    assert decode_columns(columns((20, "D", 0.9), (21, "D", 0.5))) == "D"
    # a split letter whose halves disagree reads the letter with more summed probability
    assert decode_columns(columns((18, "R", 0.25), (19, "S", 0.45))) == "S"


def test_double_letters_two_columns_apart_stay_double() -> None:
    probs = columns((6, "H", 0.9), (12, "A", 0.9), (17, "P", 0.9), (20, "P", 0.9),
                    (25, "Y", 0.9))
    assert decode_columns(probs) == "HAPPY"


def test_faint_columns_are_blank() -> None:
    assert decode_columns(columns((5, "X", 0.04), (20, "O", 0.2))) == ""
