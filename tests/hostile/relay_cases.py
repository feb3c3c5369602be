# SPDX-License-Identifier: GPL-2.0-only
"""Hostile cases: see hostile.py."""

ATTACKS = {}
CASES = {}
TITLES = {}
