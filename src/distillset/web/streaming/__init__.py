"""Responses that stream: export downloads, and task progress as server-sent events."""
