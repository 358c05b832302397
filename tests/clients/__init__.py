"""Tests of the official mem0ai clients (Python sync/async, npm) and Mem0's published samples against mnemo."""

from __future__ import annotations
