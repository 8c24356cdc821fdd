"""The domain tag tree: editing it, importing and exporting it, generating it."""
