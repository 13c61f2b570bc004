"""Benchmarks of Kwebbel and its ACS emulator; see bench/README.md."""
