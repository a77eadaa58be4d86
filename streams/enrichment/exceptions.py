"""What can go wrong in the enrich stage."""


class EnrichmentError(RuntimeError):
    """The enrich stage cannot run (for example its spaCy model is missing)."""
