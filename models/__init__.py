"""popcare's risk model: features, labels, training, evaluation, reasons, registry, scoring.

docs/risk-model.md describes the design; docs/model-card.md is the published model card.
"""
