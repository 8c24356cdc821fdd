"""Core service functions shared by the CLI, the web app and the Python API."""
