"""Adapters: converters from other data formats into popcare's input contract.

Each adapter reads a foreign export and writes ``<table>.csv`` files with exactly the columns of
``pipelines.contract.TABLES``, so that the ordinary ingest reads them like any other extract.
The SQL of each adapter lives in ``sql/adapters/<adapter>/``, one output table per file.
"""
