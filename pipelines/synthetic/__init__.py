"""Synthetic population generator: the input contract filled with realistic, structured fake data.

``generate(...)`` is the entry point (``popcare generate`` wraps it); docs/generator.md documents
every modelling choice and the public figure it follows.
"""

from pipelines.synthetic.generate import GENERATOR_VERSION, generate

__all__ = ["GENERATOR_VERSION", "generate"]
