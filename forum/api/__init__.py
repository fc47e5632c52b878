"""The JSON API, Discourse-compatible in paths and shapes; thin handlers like views/."""
