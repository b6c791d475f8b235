"""pathway: the care pathway tracker for the MILD procedure."""

__version__ = "0.1.0"
