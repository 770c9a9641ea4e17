"""Benchmarks (``make bench`` runs ``python -m bench``): not part of the test suite.

Each module here with a ``main() -> dict`` measures something against a baseline taken in
the same run, prints its numbers and writes ``bench/results/<name>.json`` atomically.
"""
