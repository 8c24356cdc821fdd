"""Projects and their model endpoints, with the keys those endpoints use."""
