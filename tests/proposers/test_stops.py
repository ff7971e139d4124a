"""The ending rule shared by every engine: stop string (possibly split over tokens), EOS, length."""

from __future__ import annotations

from llemma_prove.proposers.stops import find_ending, first_stop

PIECES = {1: "\n", 2: "norm", 3: "_num", 4: "-", 5: "--", 6: "x", 7: "</s>", 8: "---"}
EOS = {7}


def decode(ids):
    return "".join(PIECES[i] for i in ids if i not in EOS)


def test_stop_string_split_over_tokens_keeps_the_completing_token():
    ending = find_ending([1, 2, 3, 1, 4, 5, 6, 6], decode, ("---",), EOS)
    assert ending.reason == "stop"
    assert ending.num_tokens == 6  # up to and including "--", which completes "---"
    assert ending.text == "\nnorm_num\n"


def test_eos_ends_the_sequence_and_counts_as_a_token():
    ending = find_ending([1, 2, 7, 8, 8], decode, ("---",), EOS)
    assert (ending.reason, ending.num_tokens, ending.text) == ("eos", 3, "\nnorm")


def test_no_stop_and_no_eos_keeps_everything():
    ending = find_ending([2, 3, 6], decode, ("---",), EOS)
    assert (ending.reason, ending.num_tokens, ending.text) == ("length", 3, "norm_numx")


def test_earliest_of_several_stop_strings_wins():
    assert first_stop("ab\n\ncd---", ("---", "\n\n")) == 2
    ending = find_ending([2, 1, 1, 8], decode, ("---", "\n\n"), EOS)
    assert (ending.num_tokens, ending.text) == (3, "norm")


def test_stop_at_the_very_first_token():
    ending = find_ending([8, 2], decode, ("---",), EOS)
    assert (ending.reason, ending.num_tokens, ending.text) == ("stop", 1, "")
