"""The live layer: a library that knows nothing about posts or groups (built in the next issue)."""
