"""``tcphub.set_engine_log_level`` takes any ``logging`` level, as
``Logger.setLevel`` does: an int past 64 bits (``2**64``, ``-2**64``) is a
level above every line or below every line, not an ``OverflowError``."""

from __future__ import annotations

import logging

import pytest

import tcphub


def test_levels_past_64_bits_are_levels() -> None:
    try:
        for level, taken in [(2**64, logging.CRITICAL), (2**63, logging.CRITICAL),
                             (-2**64, 5), (-2**63 - 1, 5), (2**63 - 1, logging.CRITICAL)]:
            tcphub.set_engine_log_level(level)
            assert tcphub.engine_log_level() == taken, level
        # logging takes them too.
        logging.getLogger("tcphub.review_ss").setLevel(2**64)
    finally:
        tcphub.set_engine_log_level(logging.INFO)


def test_what_is_no_int_is_still_refused() -> None:
    try:
        for wrong in [10.0, "DEBUG", None]:
            with pytest.raises(TypeError):
                tcphub.set_engine_log_level(wrong)  # type: ignore[arg-type]
        assert tcphub.engine_log_level() == logging.INFO
    finally:
        tcphub.set_engine_log_level(logging.INFO)
