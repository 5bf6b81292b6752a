"""The one full-text index: documents with an audience, kept by the domains, read by search."""
