"""Post content: cooking raw markdown into safe HTML at write time, and excerpts of it."""

from forum.content.cook import cook, excerpt

__all__ = ["cook", "excerpt"]
