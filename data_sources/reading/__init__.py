"""The bar-file reader's parts (``data_sources.files`` puts them together), one job a module."""
